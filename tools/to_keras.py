#!/usr/bin/env python3
"""A train_gpu checkpoint's weights in the tutorial's own Keras model, saved as Keras weights.

Usage:
    tools/to_keras.py CHECKPOINT OUT.weights.h5 [--data-dir DIR]

CHECKPOINT is a train_gpu checkpoint or a PyTorch state_dict of the same model (safetensors).
The script rebuilds the tutorial's SimpleConvModel (Conv2D 32 3x3 ReLU -> MaxPooling2D 2x2 ->
Flatten -> Dense 128 ReLU -> Dense 10 softmax, channels last), loads the weights into it and
saves them with model.save_weights(OUT.weights.h5). With --data-dir (the t10k IDX files of
MNIST) it also prints the Keras model's test accuracy, and how far its probabilities are from
this repository's numpy forward pass of the checkpoint (tools/checkpoint_accuracy.py).

Layouts: train_gpu stores PyTorch's (NCHW), Keras expects channels last (NHWC):
  conv.weight (32,1,3,3) = (out, in, h, w)  -> Conv2D kernel (3,3,1,32) = (h, w, in, out)
  fc1.weight (128,5408), inputs in (c, h, w) order (torch.flatten of NCHW)
                                            -> Dense kernel (5408,128), inputs in (h, w, c) order:
     Keras's Flatten walks the pooled (13,13,32) maps channel fastest, so row (h*13 + w)*32 + c
     of the kernel must hold column c*169 + h*13 + w of fc1.weight
  fc2.weight (10,128) = (out, in)           -> Dense kernel (128,10) = (in, out)
  biases                                    -> unchanged
The last Dense has the tutorial's softmax activation, so the Keras model outputs probabilities
(train_gpu's logits through a softmax).

To use the weights elsewhere:

    import sys; sys.path.insert(0, "tools")
    from to_keras import build_model
    model = build_model()                       # the tutorial's SimpleConvModel, built
    model.load_weights("model.weights.h5")
    probabilities = model(x_test.reshape(-1, 28, 28, 1) / 255.0)

Needs TensorFlow 2 with Keras 3 (pip install tensorflow-cpu); the layout conversion alone
(keras_weights) needs only numpy.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checkpoint_accuracy import CheckpointError, find_idx, logits_of, read_checkpoint, read_idx  # noqa: E402

CONV_FILTERS, POOLED_SIDE, HIDDEN = 32, 13, 128


def keras_weights(parameters):
    """train_gpu's (PyTorch-layout) parameters -> the Keras layers' weights, as a dict of
    [kernel, bias] lists keyed by the tutorial's layer attribute names."""
    conv_kernel = parameters["conv.weight"].transpose(2, 3, 1, 0)  # (out,in,h,w) -> (h,w,in,out)
    fc1 = parameters["fc1.weight"].reshape(HIDDEN, CONV_FILTERS, POOLED_SIDE, POOLED_SIDE)  # (out, c, h, w)
    dense_kernel = fc1.transpose(2, 3, 1, 0).reshape(POOLED_SIDE * POOLED_SIDE * CONV_FILTERS, HIDDEN)  # ((h,w,c), out)
    return {
        "convolution": [np.ascontiguousarray(conv_kernel), parameters["conv.bias"].copy()],
        "dense": [np.ascontiguousarray(dense_kernel), parameters["fc1.bias"].copy()],
        "softmax": [np.ascontiguousarray(parameters["fc2.weight"].T), parameters["fc2.bias"].copy()],
    }


def build_model():
    """The tutorial's SimpleConvModel, layer for layer, built for (N, 28, 28, 1) inputs."""
    from tensorflow.keras import Model
    from tensorflow.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D

    class SimpleConvModel(Model):
        def __init__(self):
            super().__init__()
            self.convolution = Conv2D(32, (3, 3), activation="relu")
            self.max_pooling = MaxPooling2D(2, 2)
            self.flatten = Flatten()
            self.dense = Dense(128, activation="relu")
            self.softmax = Dense(10, activation="softmax")

        def call(self, inputs):
            x = self.max_pooling(self.convolution(inputs))
            return self.softmax(self.dense(self.flatten(x)))

    model = SimpleConvModel()
    # Keras 3's build() of a subclassed model does not build the layers inside; one call does.
    model(np.zeros((1, 28, 28, 1), np.float32))
    return model


def softmax(logits):
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out", help="the Keras weights file; Keras 3 wants the name to end in .weights.h5")
    parser.add_argument("--data-dir", help="t10k IDX files of MNIST: also report the Keras model's test accuracy")
    args = parser.parse_args()
    if not args.out.endswith(".weights.h5"):
        print(f"error: {args.out}: Keras's save_weights needs a name ending in .weights.h5", file=sys.stderr)
        return 2
    try:
        parameters, metadata = read_checkpoint(args.checkpoint, allow_state_dict=True)
        if args.data_dir:
            images = read_idx(find_idx(args.data_dir, "t10k-images", "idx3-ubyte"), 0x00000803)
            labels = read_idx(find_idx(args.data_dir, "t10k-labels", "idx1-ubyte"), 0x00000801)
    except (OSError, CheckpointError, KeyError, TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        model = build_model()
    except ImportError as e:
        print(f"error: TensorFlow is needed to build the Keras model ({e}); pip install tensorflow-cpu", file=sys.stderr)
        return 1

    for name, weights in keras_weights(parameters).items():
        getattr(model, name).set_weights(weights)
    model.save_weights(args.out)
    print(f"wrote {args.out}: the tutorial's SimpleConvModel with the weights of {args.checkpoint} "
          f"(epoch {metadata.get('epoch', '?')}, dataset {metadata.get('dataset', '?')})")

    if args.data_dir:
        x = (images.astype(np.float32) / np.float32(255)).reshape(-1, 28, 28, 1)
        probabilities = model.predict(x, batch_size=1000, verbose=0)
        correct = int((probabilities.argmax(axis=1) == labels).sum())
        reference = np.concatenate([softmax(logits_of(parameters, images[i:i + 1000])) for i in range(0, len(images), 1000)])
        print(f"keras test accuracy {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)})")
        print(f"largest difference from the numpy forward pass of the checkpoint: "
              f"{np.abs(probabilities - reference).max():.2e} (probability)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
