"""Checks an exported ONNX model of any spec against the float64 NumPy reference of the same spec.

Usage: onnx_matches_reference.py MODEL.onnx KERAS.json WEIGHTS.safetensors SEED

Runs onnx.checker (full_check), then onnxruntime on seeded random images in [0, 1) in batches of
1 and 5 (the symbolic N), and reference_forward.forward on the same images with the same tensors.
Prints one line of key=value pairs for the C++ test (onnx_python_test.cpp) to judge: the outputs'
names, the input shape, the largest |logit| and the largest logit and probability differences.
"""

import sys

import numpy as np
import onnx
import onnxruntime
from safetensors.numpy import load_file

from evaluate_reference import softmax
from reference_forward import forward


def main():
    model_path, json_path, weights_path, seed = sys.argv[1:5]
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    with open(json_path) as f:
        json_text = f.read()
    tensors = load_file(weights_path)

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_shape = session.get_inputs()[0].shape
    outputs = [output.name for output in session.get_outputs()]
    images = np.random.default_rng(int(seed)).random((6,) + tuple(input_shape[1:]), dtype=np.float32)
    results = [session.run(outputs, {"input": images[:1]}), session.run(outputs, {"input": images[1:]})]
    logits = np.concatenate([result[0] for result in results])
    reference = forward(json_text, tensors, images)
    fields = {
        "outputs": ",".join(outputs),
        "input_shape": ",".join(str(d) for d in input_shape),
        "logits_shape": ",".join(str(d) for d in logits.shape),
        "max_abs_logit": f"{np.abs(reference).max():.6g}",
        "logit_difference": f"{np.abs(logits - reference).max():.6g}",
    }
    if len(outputs) > 1:
        probabilities = np.concatenate([result[1] for result in results])
        fields["probability_difference"] = f"{np.abs(probabilities - softmax(reference)).max():.6g}"
    print(" ".join(f"{key}={value}" for key, value in fields.items()))


if __name__ == "__main__":
    main()
