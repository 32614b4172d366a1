"""A float64 NumPy forward pass of any sequential spec, in inference mode: the tests' reference.

forward(json_text, tensors, images) -> logits (N, classes), float64, for images (N, C, H, W) scaled
as the engine scales them (byte / 255), tensors {name: array} in train_gpu's (PyTorch) names and
layouts (tools/sequential_spec.py names them). Written from the layers' definitions, loop-free but
without any library's convolution: Conv2D by summing kernel taps over shifted windows,
TensorFlow's "same" padding (the odd one at the bottom/right), max pooling ignoring padded
positions, average pooling leaving them out of the count (tf.nn.avg_pool), BatchNormalization
on its moving statistics, Dropout the identity, and a final softmax left out (the logits).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from sequential_spec import layers_of  # noqa: E402


def activate(x, activation):
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "tanh":
        return np.tanh(x)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if activation in ("linear", "softmax"):  # softmax only ever last: folded into the loss
        return x
    raise ValueError(f"activation {activation!r}")


def windows(x, layer, fill):
    """(N, C, out_h, out_w, kh, kw) views of x padded by `fill`, one window per output position."""
    top, left, bottom, right = layer.pads
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    kh, kw = layer.window
    sh, sw = layer.strides
    view = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    return view[:, :, ::sh, ::sw][:, :, :layer.output[1], :layer.output[2]]


def forward(json_text, tensors, images):
    network_input, layers = layers_of(json_text)
    x = np.asarray(images, dtype=np.float64).reshape((-1,) + tuple(network_input))
    t = {name: np.asarray(value, dtype=np.float64) for name, value in tensors.items()}
    for layer in layers:
        params = [t[name] for name, _ in layer.parameters]
        if layer.kind == "Conv2D":
            patches = windows(x, layer, 0.0)  # (N, C, oh, ow, kh, kw)
            x = np.einsum("ncyxij,fcij->nfyx", patches, params[0])
            if len(params) > 1:
                x = x + params[1][None, :, None, None]
            x = activate(x, layer.activation)
        elif layer.kind == "MaxPooling2D":
            x = windows(x, layer, -np.inf).max(axis=(4, 5))
        elif layer.kind == "AveragePooling2D":
            counts = windows(np.ones_like(x[:1, :1]), layer, 0.0).sum(axis=(4, 5))
            x = windows(x, layer, 0.0).sum(axis=(4, 5)) / counts
        elif layer.kind == "Flatten":
            x = x.reshape(len(x), -1, 1, 1)
        elif layer.kind == "Dense":
            x = x.reshape(len(x), -1) @ params[0].T
            if len(params) > 1:
                x = x + params[1]
            x = activate(x, layer.activation).reshape(len(x), -1, 1, 1)
        elif layer.kind == "BatchNormalization":
            mean, variance = (t[name] for name, _ in layer.buffers)
            scale = params[0] / np.sqrt(variance + layer.config.get("epsilon", 1e-3))
            x = (x - mean[None, :, None, None]) * scale[None, :, None, None] + params[1][None, :, None, None]
        elif layer.kind == "Activation":
            x = activate(x, layer.activation)
        # Dropout: the identity at inference.
    return x.reshape(len(x), -1)
