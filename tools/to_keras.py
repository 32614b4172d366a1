#!/usr/bin/env python3
"""A train_gpu checkpoint as a Keras model made of standard layers: a .keras file or Keras weights.

Usage:
    tools/to_keras.py CHECKPOINT OUT.keras       [--data-dir DIR]
    tools/to_keras.py CHECKPOINT OUT.weights.h5  [--data-dir DIR]

CHECKPOINT is a train_gpu checkpoint or a PyTorch state_dict of the same model (safetensors),
MNIST's or Fashion-MNIST's (the engine trains one architecture on either). The script builds the
tutorial's network as a plain keras.Sequential of standard layers -- Input (28, 28, 1),
Conv2D 32 3x3 ReLU, MaxPooling2D 2x2, Flatten, Dense 128 ReLU, Dense 10 softmax, channels last --
and sets the checkpoint's weights:

  OUT.keras       the whole model, compiled as the tutorial trains it (Adam with Keras's defaults,
                  which are train_gpu's; sparse categorical cross-entropy; accuracy). It needs no
                  code of this repository: keras.models.load_model("OUT.keras") opens it as it is.
                  The optimizer starts afresh: train_gpu's Adam moments are not carried over.
  OUT.weights.h5  the weights alone, for the same Sequential built by hand (README, "Export").

With --data-dir (the t10k IDX files) it also prints the Keras model's test accuracy, and how far
its probabilities are from this repository's numpy forward pass (tools/checkpoint_accuracy.py).

Layouts: train_gpu stores PyTorch's (NCHW), Keras expects channels last (NHWC):
  conv.weight (32,1,3,3) = (out, in, h, w)  -> Conv2D kernel (3,3,1,32) = (h, w, in, out)
  fc1.weight (128,5408), inputs in (c, h, w) order (torch.flatten of NCHW)
                                            -> Dense kernel (5408,128), inputs in (h, w, c) order:
     Keras's Flatten walks the pooled (13,13,32) maps channel fastest, so row (h*13 + w)*32 + c
     of the kernel must hold column c*169 + h*13 + w of fc1.weight
  fc2.weight (10,128) = (out, in)           -> Dense kernel (128,10) = (in, out)
  biases                                    -> unchanged
The last Dense has the tutorial's softmax activation, so the Keras model outputs probabilities
(train_gpu's logits through a softmax) of inputs scaled as the tutorial scales them, byte / 255.

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
    """The tutorial's network as a keras.Sequential of standard layers, built for (N, 28, 28, 1).
    Its layers are named after the tutorial's SimpleConvModel attributes (keras_weights' keys);
    the names do not matter for loading: a Sequential built without them takes the same files."""
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1), name="image"),
        keras.layers.Conv2D(CONV_FILTERS, (3, 3), activation="relu", name="convolution"),
        keras.layers.MaxPooling2D((2, 2), name="max_pooling"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(HIDDEN, activation="relu", name="dense"),
        keras.layers.Dense(10, activation="softmax", name="softmax"),
    ], name="simple_conv_model")


def compile_as_the_tutorial(model):
    """Adam (Keras's defaults: learning rate 1e-3, betas 0.9/0.999, epsilon 1e-7, as train_gpu's),
    sparse categorical cross-entropy on the probabilities, accuracy: model.evaluate and model.fit
    work on the loaded file. The optimizer is built before saving, so that its (fresh) variables
    are in the file and load_model restores them without a warning."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)


def softmax(logits):
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out", help="OUT.keras: the whole model; OUT.weights.h5: the weights alone")
    parser.add_argument("--data-dir", help="t10k IDX files of MNIST: also report the Keras model's test accuracy")
    args = parser.parse_args()
    whole_model = args.out.endswith(".keras")
    if not whole_model and not args.out.endswith(".weights.h5"):
        print(f"error: {args.out}: expected a name ending in .keras (the whole model, what keras.models.load_model "
              f"opens) or .weights.h5 (the weights alone), as Keras 3 requires", file=sys.stderr)
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
        model.get_layer(name).set_weights(weights)
    if whole_model:
        compile_as_the_tutorial(model)
        model.save(args.out)
        what = "a keras.Sequential of standard layers, compiled"
    else:
        model.save_weights(args.out)
        what = "the weights of the tutorial's network as a keras.Sequential"
    print(f"wrote {args.out}: {what}, from {args.checkpoint} "
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
