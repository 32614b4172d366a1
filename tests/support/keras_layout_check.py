"""Checks tools/to_keras.py's layout conversion with numpy alone (no TensorFlow needed).

Usage: keras_layout_check.py CHECKPOINT STATE_DICT

Both files hold the same weights (a train_gpu checkpoint and a PyTorch state_dict of it). For
each, runs the network the way Keras runs the converted weights -- channels last, Conv2D kernel
(h, w, in, out), Flatten of (13, 13, 32) maps, Dense kernels (in, out) -- and compares the
logits with checkpoint_accuracy.py's NCHW forward pass (PyTorch's layouts). Prints one line of
key=value pairs for keras_python_test.cpp.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from checkpoint_accuracy import CheckpointError, logits_of, read_checkpoint  # noqa: E402
from to_keras import keras_weights  # noqa: E402


def keras_style_logits(weights, images):
    """images (B,28,28) uint8 -> logits, computed as Keras computes SimpleConvModel (NHWC)."""
    x = images.astype(np.float32) / np.float32(255)
    kernel, bias = weights["convolution"]                                              # (3,3,1,32)
    patches = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))      # (B,26,26,3,3)
    conv = np.maximum(np.einsum("bijhw,hwo->bijo", patches, kernel[:, :, 0, :]) + bias, 0)  # (B,26,26,32)
    pooled = conv.reshape(len(x), 13, 2, 13, 2, 32).max(axis=(2, 4))                  # (B,13,13,32)
    flat = pooled.reshape(len(x), -1)                                                  # Keras Flatten: (h, w, c)
    kernel, bias = weights["dense"]
    hidden = np.maximum(flat @ kernel + bias, 0)
    kernel, bias = weights["softmax"]
    return hidden @ kernel + bias                                                      # before the softmax


def main():
    checkpoint_path, state_dict_path = sys.argv[1:3]
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    differences = []
    for path in (checkpoint_path, state_dict_path):
        parameters, _ = read_checkpoint(path, allow_state_dict=True)
        reference = logits_of(parameters, images)
        differences.append(np.abs(keras_style_logits(keras_weights(parameters), images) - reference).max()
                           / np.abs(reference).max())
    try:
        read_checkpoint(state_dict_path)
        strict = "accepted"
    except CheckpointError:
        strict = "refused"
    print(f"checkpoint_relative_difference={differences[0]:.3e} state_dict_relative_difference={differences[1]:.3e} "
          f"strict_reader_on_state_dict={strict}")


if __name__ == "__main__":
    main()
