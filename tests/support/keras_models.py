"""Keras's side of keras_model_python_test.cpp: real keras.Sequential models written as
model.to_json() writes them, with what Keras says of them, and train_gpu's JSON of a model
(`summary --print keras-json`) read back by keras.models.model_from_json.

Usage: keras_models.py write OUT_DIR
         For each model NAME: OUT_DIR/NAME.json (to_json()) and OUT_DIR/NAME.keras-says.json
         ({"total", "trainable", "non_trainable": count_params() and its split, "shapes": each
         layer's output shape, None as null}). Prints "models=NAME,NAME,...".
       keras_models.py compare ORIGINAL.json OURS.json
         Rebuilds both with keras.models.model_from_json and compares them layer by layer (class
         and get_config(), a ReLU layer and Activation("relu") being the same layer) and by
         count_params(). Prints "layers=N differences=K total_original=A total_ours=B" and one
         line per difference before it.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
from keras import layers  # noqa: E402

# Keras's Simple MNIST convnet is the benchmark's model too: one definition, the benchmark's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench", "models"))
from make_models import simple_mnist_convnet  # noqa: E402


def models():
    """The models the issue names: the tutorial's, Keras's Simple MNIST convnet, and a CIFAR-shaped
    one with BatchNormalization, same padding, strides 2, AveragePooling2D, Dropout and
    Activation layers (and one of each option we read that is not at its default)."""
    return {
        "tutorial": keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ]),
        "simple_mnist_convnet": simple_mnist_convnet(),
        "cifar": keras.Sequential([
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Conv2D(64, (3, 5), strides=2, padding="same", activation="tanh"),
            layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.MaxPooling2D(3, strides=1, padding="same"),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(64, activation="sigmoid"),
            layers.Dropout(0.5),
            layers.Dense(10),
            layers.Activation("softmax"),
        ]),
    }


def write(out_dir):
    names = []
    for name, model in models().items():
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            f.write(model.to_json())
        trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
        says = {
            "total": int(model.count_params()),
            "trainable": trainable,
            "non_trainable": int(model.count_params()) - trainable,
            "shapes": [list(layer.output.shape) for layer in model.layers],
        }
        with open(os.path.join(out_dir, name + ".keras-says.json"), "w") as f:
            json.dump(says, f)
        names.append(name)
    print("models=" + ",".join(names))


def comparable(layer):
    """A layer's class and config as compared: ReLU() is Activation("relu") here."""
    config = dict(layer.get_config())
    if type(layer).__name__ == "ReLU":
        return "Activation", {"name": config["name"], "activation": "relu"}
    if type(layer).__name__ == "Activation":
        return "Activation", {"name": config["name"], "activation": config["activation"]}
    return type(layer).__name__, config


def compare(original_file, ours_file):
    with open(original_file) as f:
        original = keras.models.model_from_json(f.read())
    with open(ours_file) as f:
        ours = keras.models.model_from_json(f.read())
    differences = 0
    if len(original.layers) != len(ours.layers):
        print(f"difference: {len(original.layers)} layers vs {len(ours.layers)}")
        differences += 1
    for a, b in zip(original.layers, ours.layers):
        if comparable(a) != comparable(b):
            print(f"difference: {comparable(a)} vs {comparable(b)}")
            differences += 1
    if list(original.input_shape) != list(ours.input_shape):
        print(f"difference: input {original.input_shape} vs {ours.input_shape}")
        differences += 1
    print(f"layers={len(ours.layers)} differences={differences} total_original={original.count_params()} "
          f"total_ours={ours.count_params()}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
