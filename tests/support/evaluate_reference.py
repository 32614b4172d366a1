"""What the exported-model checks share: the MNIST test set as the engine feeds it, and the
comparison with `train_gpu evaluate`'s probabilities.npy and evaluation.json, printed as one line
of key=value pairs for the C++ test to judge (support/test_support.h, key_values)."""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from checkpoint_accuracy import find_idx, read_idx  # noqa: E402  (the repository's IDX reader)


def load_test_set(data_dir):
    """(images (N,28,28) float32 = byte / 255, labels (N,) int64)."""
    images = read_idx(find_idx(data_dir, "t10k-images", "idx3-ubyte"), 0x00000803)
    labels = read_idx(find_idx(data_dir, "t10k-labels", "idx1-ubyte"), 0x00000801).astype(np.int64)
    return images.astype(np.float32) / np.float32(255), labels


def softmax(logits):
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def comparison_line(probabilities, labels, evaluation_dir, **extra):
    """probabilities (N,10) from the other runtime vs evaluate's, as 'key=value ...'."""
    reference = np.load(os.path.join(evaluation_dir, "probabilities.npy"))
    with open(os.path.join(evaluation_dir, "evaluation.json")) as f:
        evaluation = json.load(f)
    if reference.shape != probabilities.shape:
        raise SystemExit(f"probabilities.npy has shape {reference.shape}, the model gives {probabilities.shape}")
    difference = np.abs(probabilities.astype(np.float64) - reference.astype(np.float64))
    predicted = probabilities.argmax(axis=1)
    correct = int((predicted == labels).sum())
    fields = dict(extra)
    fields.update(samples=len(labels), max_abs_difference=f"{difference.max():.3e}", other_correct=correct,
                  evaluate_correct=evaluation["correct"],
                  same_predictions=int((predicted == reference.argmax(axis=1)).sum()),
                  other_accuracy=f"{100.0 * correct / len(labels):.2f}",
                  evaluate_accuracy=f"{100.0 * evaluation['accuracy']:.2f}")
    return " ".join(f"{key}={value}" for key, value in fields.items())
