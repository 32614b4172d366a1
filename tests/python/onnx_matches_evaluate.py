"""Checks an exported ONNX model against `train_gpu evaluate` of the same checkpoint.

Usage: onnx_matches_evaluate.py MODEL.onnx EVALUATION_DIR DATA_DIR

Runs onnx.checker (full_check: types and shapes inferred through every node), then onnxruntime on
all test images of DATA_DIR (scaled as the engine scales them, byte / 255) in batches of several
sizes, the dynamic batch dimension's test, and compares softmax(logits) with EVALUATION_DIR's
probabilities.npy. Prints one line of key=value pairs for the C++ test (onnx_python_test.cpp) to
judge; exits non-zero only when something could not be run at all.
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from checkpoint_accuracy import find_idx, read_idx  # noqa: E402  (the repository's IDX reader)


def softmax(logits):
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def main():
    model_path, evaluation_dir, data_dir = sys.argv[1:4]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)

    images = read_idx(find_idx(data_dir, "t10k-images", "idx3-ubyte"), 0x00000803)
    labels = read_idx(find_idx(data_dir, "t10k-labels", "idx1-ubyte"), 0x00000801).astype(np.int64)
    x = (images.astype(np.float32) / np.float32(255)).reshape(-1, 1, 28, 28)

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_shape = session.get_inputs()[0].shape
    logits = session.run(["logits"], {"input": x})[0]
    # The same images in other batch sizes, a partial last batch included: the symbolic N at work.
    for batch in (1, 7, 1000):
        for first in (0, len(x) - batch // 2 - 1):
            part = session.run(["logits"], {"input": x[first:first + batch]})[0]
            if part.shape != (len(x[first:first + batch]), 10):
                raise SystemExit(f"batch {batch} at {first}: output shape {part.shape}")
            if np.abs(part - logits[first:first + batch]).max() > 1e-4:
                raise SystemExit(f"batch {batch} at {first}: logits differ from the full batch's")

    probabilities = softmax(logits)
    reference = np.load(os.path.join(evaluation_dir, "probabilities.npy"))
    evaluation = json.load(open(os.path.join(evaluation_dir, "evaluation.json")))
    if reference.shape != probabilities.shape:
        raise SystemExit(f"probabilities.npy has shape {reference.shape}, the model gives {probabilities.shape}")
    difference = np.abs(probabilities - reference.astype(np.float64))
    onnx_correct = int((logits.argmax(axis=1) == labels).sum())
    same_predictions = int((logits.argmax(axis=1) == reference.argmax(axis=1)).sum())
    print(f"samples={len(labels)} input_shape={','.join(str(d) for d in input_shape)} "
          f"max_abs_difference={difference.max():.3e} onnx_correct={onnx_correct} "
          f"evaluate_correct={evaluation['correct']} same_predictions={same_predictions} "
          f"onnx_accuracy={100.0 * onnx_correct / len(labels):.2f} evaluate_accuracy={100.0 * evaluation['accuracy']:.2f}")


if __name__ == "__main__":
    main()
