"""Checks an exported ONNX model against `train_gpu evaluate` of the same checkpoint.

Usage: onnx_matches_evaluate.py MODEL.onnx EVALUATION_DIR DATA_DIR

Runs onnx.checker (full_check: types and shapes inferred through every node), then onnxruntime on
all test images of DATA_DIR (scaled as the engine scales them, byte / 255) in batches of several
sizes, the dynamic batch dimension's test, and compares softmax(logits) with EVALUATION_DIR's
probabilities.npy. Prints one line of key=value pairs (evaluate_reference.py) for the C++ test
(onnx_python_test.cpp) to judge; exits non-zero only when something could not be run at all.
"""

import sys

import numpy as np
import onnx
import onnxruntime

from evaluate_reference import comparison_line, load_test_set, softmax


def main():
    model_path, evaluation_dir, data_dir = sys.argv[1:4]
    onnx.checker.check_model(onnx.load(model_path), full_check=True)

    images, labels = load_test_set(data_dir)
    x = images.reshape(-1, 1, 28, 28)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_shape = ",".join(str(d) for d in session.get_inputs()[0].shape)
    logits = session.run(["logits"], {"input": x})[0]
    # The same images in other batch sizes, a partial last batch included: the symbolic N at work.
    for batch in (1, 7, 1000):
        for first in (0, len(x) - batch // 2 - 1):
            part = session.run(["logits"], {"input": x[first:first + batch]})[0]
            if part.shape != (len(x[first:first + batch]), 10):
                raise SystemExit(f"batch {batch} at {first}: output shape {part.shape}")
            if np.abs(part - logits[first:first + batch]).max() > 1e-4:
                raise SystemExit(f"batch {batch} at {first}: logits differ from the full batch's")
    print(comparison_line(softmax(logits), labels, evaluation_dir, input_shape=input_shape))


if __name__ == "__main__":
    main()
