#!/usr/bin/env python3
"""Writes the benchmark's Keras JSON models beside this script, as the Keras that runs it writes them.

  simple_mnist_convnet.json  Keras's "Simple MNIST convnet" example (keras.io/examples/vision/
                             mnist_convnet): Conv2D 32 3x3 relu, MaxPooling 2, Conv2D 64 3x3 relu,
                             MaxPooling 2, Flatten, Dropout 0.5, Dense 10 softmax; 34,826 parameters

Usage: make_models.py [OUT_DIR]   (default: this script's folder; needs tensorflow or keras)
  e.g. build/test-venv/bin/python tools/bench/models/make_models.py
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
from keras import layers  # noqa: E402


def simple_mnist_convnet():
    """The example's model, layer for layer as the example writes it."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    model = simple_mnist_convnet()
    if model.count_params() != 34826:  # the example's summary says 34,826
        raise SystemExit(f"make_models.py: simple_mnist_convnet has {model.count_params()} parameters, not 34,826")
    path = os.path.join(out_dir, "simple_mnist_convnet.json")
    with open(path, "w") as f:
        f.write(model.to_json(indent=2) + "\n")
    print(f"wrote {path} (keras {keras.__version__}, {model.count_params():,} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
