"""Checks tools/to_keras.py on a checkpoint of any spec against the float64 NumPy reference.

Usage: keras_spec_matches_reference.py KERAS.json SCRATCH_DIR SEED

Writes a train_gpu checkpoint as the engine writes one (safetensors; metadata format, data_crc32,
epoch, dataset and keras_model = the JSON Keras's to_json() wrote for the model) with seeded
random tensors under the spec's names (tools/sequential_spec.py; moving variances positive),
runs tools/to_keras.py on it as a user does (OUT.keras and OUT.weights.h5), opens OUT.keras with
keras.models.load_model and loads OUT.weights.h5 into keras.models.model_from_json(JSON), and
compares both models' outputs on seeded random images (channels last) with
reference_forward.forward (channels first) as centred logits (log of the probabilities when the
model ends in softmax).
Prints one line of key=value pairs for keras_python_test.cpp.
"""

import os
import subprocess
import sys
import zlib

import numpy as np
from safetensors.numpy import save_file

from reference_forward import forward

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, TOOLS)
from sequential_spec import layers_of, tensor_shapes  # noqa: E402


def random_tensors(layers, rng):
    tensors = {}
    for name, shape in tensor_shapes(layers).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
        if name.endswith("running_var") or (name.endswith(".weight") and fan_in == 0):
            values = rng.uniform(0.5, 1.5, shape)  # BatchNormalization: a variance, a scale
        elif fan_in:
            bound = np.sqrt(3.0 / fan_in)
            values = rng.uniform(-bound, bound, shape)
        else:
            values = rng.uniform(-0.2, 0.2, shape)
        tensors[name] = values.astype(np.float32)
    return tensors


def centred(logits):
    """Logits less their row mean: what log(softmax) keeps of them, so that a model that ends in
    softmax is compared on logits (every layout slip shows, however flat the probabilities)."""
    return logits - logits.mean(axis=1, keepdims=True)


def write_checkpoint(path, tensors, json_text):
    metadata = {"format": "train_gpu-checkpoint-v1", "epoch": "3", "dataset": "test", "keras_model": json_text}
    save_file(tensors, path, metadata=metadata)
    with open(path, "rb") as f:
        blob = f.read()
    # The checksum covers the tensor data alone, which the header's size does not move.
    metadata["data_crc32"] = f"{zlib.crc32(blob[8 + int.from_bytes(blob[:8], 'little'):]) & 0xFFFFFFFF:08x}"
    save_file(tensors, path, metadata=metadata)


def main():
    json_path, scratch, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(json_path) as f:
        json_text = f.read().strip()
    network_input, layers = layers_of(json_text)
    rng = np.random.default_rng(seed)
    tensors = random_tensors(layers, rng)
    checkpoint = os.path.join(scratch, "epoch-003.safetensors")
    write_checkpoint(checkpoint, tensors, json_text)

    images = rng.random((5,) + tuple(network_input), dtype=np.float32)  # (N, C, H, W)
    reference = centred(forward(json_text, tensors, images))
    probabilities = layers[-1].activation == "softmax"

    import keras

    differences = {}
    for out in ("model.keras", "model.weights.h5"):
        path = os.path.join(scratch, out)
        run = subprocess.run([sys.executable, os.path.join(TOOLS, "to_keras.py"), checkpoint, path],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"to_keras.py {out} failed: {run.stdout}{run.stderr}")
        if out.endswith(".keras"):
            model = keras.models.load_model(path)
        else:
            model = keras.models.model_from_json(json_text)
            model.load_weights(path)
        outputs = model.predict(images.transpose(0, 2, 3, 1), verbose=0).astype(np.float64)
        differences[out] = np.abs(centred(np.log(outputs) if probabilities else outputs) - reference).max()
    print(f"keras_difference={differences['model.keras']:.6g} weights_difference={differences['model.weights.h5']:.6g} "
          f"max_abs_logit={np.abs(reference).max():.6g} layers={len(layers)}")


if __name__ == "__main__":
    main()
