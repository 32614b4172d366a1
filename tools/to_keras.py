#!/usr/bin/env python3
"""A train_gpu checkpoint as a Keras model made of standard layers: a .keras file or Keras weights.

Usage:
    tools/to_keras.py CHECKPOINT OUT.keras       [--data-dir DIR]
    tools/to_keras.py CHECKPOINT OUT.weights.h5  [--data-dir DIR]

CHECKPOINT is a train_gpu checkpoint or a PyTorch state_dict of the tutorial's model (safetensors).
A checkpoint of any model records it as Keras's own JSON (metadata key "keras_model", what
model.to_json() writes for a keras.Sequential): the script rebuilds that model with
keras.models.model_from_json and sets the checkpoint's weights, layer by layer
(tools/sequential_spec.py names the tensors of each layer). A checkpoint without the key, and a
state_dict, hold the tutorial's network, rebuilt as a plain keras.Sequential of standard layers --
Input (28, 28, 1), Conv2D 32 3x3 ReLU, MaxPooling2D 2x2, Flatten, Dense 128 ReLU, Dense 10
softmax, channels last. Either way:

  OUT.keras       the whole model, compiled as train_gpu trains it (Adam with Keras's defaults,
                  which are train_gpu's; sparse categorical cross-entropy, from logits unless the
                  model ends in softmax; accuracy). It needs no code of this repository:
                  keras.models.load_model("OUT.keras") opens it as it is. The optimizer starts
                  afresh: train_gpu's optimizer state is not carried over.
  OUT.weights.h5  the weights alone, for the same Sequential built by hand (README, "Export").

With --data-dir (the t10k IDX files) it also prints the Keras model's test accuracy (a 1x28x28
model only), and for the tutorial how far its probabilities are from this repository's numpy
forward pass (tools/checkpoint_accuracy.py).

Layouts: train_gpu stores PyTorch's (NCHW), Keras expects channels last (NHWC):
  Conv2D weight (out, in, h, w)             -> kernel (h, w, in, out)
  Dense weight (out, in)                    -> kernel (in, out); but a Dense fed by a Flatten of
     (C, H, W) maps gets its rows permuted: our Flatten is torch.flatten's (c, h, w) order,
     Keras's walks the (H, W, C) maps channel fastest, so row (h*W + w)*C + c of the kernel holds
     column c*H*W + h*W + w of the weight (for the tutorial's fc1: C 32, H = W = 13). A
     BatchNormalization between them has its vectors permuted the same way.
  BatchNormalization weight, bias, running_mean, running_var
                                            -> gamma, beta, moving_mean, moving_variance
  biases                                    -> unchanged
The tutorial's last Dense has the tutorial's softmax activation, so that Keras model outputs
probabilities (train_gpu's logits through a softmax) of inputs scaled as train_gpu scales them,
byte / 255; another model outputs what its Keras JSON says (probabilities for a final softmax).

Needs TensorFlow 2 with Keras 3 (pip install tensorflow-cpu); the layout conversion alone
(keras_weights) needs only numpy.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checkpoint_accuracy import PARAMETERS, CheckpointError, find_idx, logits_of, read_checkpoint, read_idx  # noqa: E402
from sequential_spec import SpecError, layers_of, tensor_shapes  # noqa: E402

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


def flatten_order(shape):
    """For a Flatten of (C, H, W) maps: index j of Keras's flat vector ((h, w, c) order) holds
    element order[j] of ours ((c, h, w) order)."""
    channels, height, width = shape
    return np.arange(channels * height * width).reshape(channels, height, width).transpose(1, 2, 0).ravel()


def spec_keras_weights(layers, tensors):
    """train_gpu's tensors of a spec (PyTorch layouts) -> {Keras layer name: weights list}, the
    order Keras's set_weights takes, for the layers sequential_spec.layers_of read."""
    weights = {}
    order = None  # set while the flat activation is in Flatten's order rather than Keras's
    for layer in layers:
        values = [tensors[name] for name, _ in layer.parameters + layer.buffers]
        if layer.kind == "Conv2D":
            weights[layer.name] = [np.ascontiguousarray(values[0].transpose(2, 3, 1, 0))] + [v.copy() for v in values[1:]]
        elif layer.kind == "Dense":
            kernel = values[0].T if order is None else values[0].T[order, :]
            weights[layer.name] = [np.ascontiguousarray(kernel)] + [v.copy() for v in values[1:]]
            order = None
        elif layer.kind == "BatchNormalization":
            weights[layer.name] = [np.ascontiguousarray(v if order is None else v[order]) for v in values]
        elif layer.kind == "Flatten" and layer.input[1] * layer.input[2] > 1:
            order = flatten_order(layer.input)
    return weights


def build_spec_model(json_text, layers, tensors):
    """The Keras model of a checkpoint's keras_model JSON, with the checkpoint's weights."""
    import keras

    model = keras.models.model_from_json(json_text)
    for name, values in spec_keras_weights(layers, tensors).items():
        model.get_layer(name).set_weights(values)
    return model


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


def compile_as_the_tutorial(model, from_logits=False):
    """Adam (Keras's defaults: learning rate 1e-3, betas 0.9/0.999, epsilon 1e-7, as train_gpu's),
    sparse categorical cross-entropy on the probabilities (on the logits for a model that does
    not end in softmax), accuracy: model.evaluate and model.fit work on the loaded file. The
    optimizer is built before saving, so that its (fresh) variables are in the file and
    load_model restores them without a warning."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), metrics=["accuracy"])
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
    # The checkpoint's own model when it records one; the tutorial's otherwise.
    spec = {}

    def expected_tensors(metadata):
        if "keras_model" not in metadata:
            return PARAMETERS
        network_input, layers = layers_of(metadata["keras_model"])
        if layers[0].module == "conv":  # the tutorial's network, under its own names: rebuilt as ever
            return PARAMETERS
        spec.update(json=metadata["keras_model"], input=network_input, layers=layers)
        return tensor_shapes(layers)

    try:
        parameters, metadata = read_checkpoint(args.checkpoint, allow_state_dict=True, tensors=expected_tensors)
        if args.data_dir and spec and spec["input"] != (1, 28, 28):
            raise CheckpointError(f"--data-dir reads 1x28x28 IDX test images, but the model's input is "
                                  f"{'x'.join(map(str, spec['input']))}; leave --data-dir out")
        if args.data_dir:
            images = read_idx(find_idx(args.data_dir, "t10k-images", "idx3-ubyte"), 0x00000803)
            labels = read_idx(find_idx(args.data_dir, "t10k-labels", "idx1-ubyte"), 0x00000801)
    except (OSError, CheckpointError, SpecError, KeyError, TypeError, ValueError) as e:
        print(f"error: {args.checkpoint}: {e}" if isinstance(e, SpecError) else f"error: {e}", file=sys.stderr)
        return 1
    try:
        import keras  # noqa: F401
    except ImportError as e:
        print(f"error: TensorFlow is needed to build the Keras model ({e}); pip install tensorflow-cpu", file=sys.stderr)
        return 1

    if spec:
        model = build_spec_model(spec["json"], spec["layers"], parameters)
        from_logits = spec["layers"][-1].activation != "softmax"
        description = f"the checkpoint's {model.name} ({len(model.layers)} layers)"
    else:
        model = build_model()
        for name, weights in keras_weights(parameters).items():
            model.get_layer(name).set_weights(weights)
        from_logits = False
        description = "the tutorial's network"
    if whole_model:
        compile_as_the_tutorial(model, from_logits)
        model.save(args.out)
        what = f"{description} as a keras.Sequential of standard layers, compiled"
    else:
        model.save_weights(args.out)
        what = f"the weights of {description} as a keras.Sequential"
    print(f"wrote {args.out}: {what}, from {args.checkpoint} "
          f"(epoch {metadata.get('epoch', '?')}, dataset {metadata.get('dataset', '?')})")

    if args.data_dir:
        x = (images.astype(np.float32) / np.float32(255)).reshape(-1, 28, 28, 1)
        probabilities = model.predict(x, batch_size=1000, verbose=0)
        correct = int((probabilities.argmax(axis=1) == labels).sum())
        if spec:
            print(f"keras test accuracy {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)})")
            return 0
        reference = np.concatenate([softmax(logits_of(parameters, images[i:i + 1000])) for i in range(0, len(images), 1000)])
        print(f"keras test accuracy {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)})")
        print(f"largest difference from the numpy forward pass of the checkpoint: "
              f"{np.abs(probabilities - reference).max():.2e} (probability)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
