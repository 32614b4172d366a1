"""Checks tools/to_keras.py's weights file against `train_gpu evaluate` of the same checkpoint.

Usage: keras_matches_evaluate.py MODEL.weights.h5 EVALUATION_DIR DATA_DIR

Builds the tutorial's model afresh (to_keras.build_model), loads the weights file as a Keras
user would, predicts all test images of DATA_DIR (byte / 255, NHWC) and compares the
probabilities with EVALUATION_DIR's probabilities.npy. Prints one line of key=value pairs
(evaluate_reference.py) for keras_python_test.cpp to judge.
"""

import os
import sys

from evaluate_reference import comparison_line, load_test_set

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from to_keras import build_model  # noqa: E402


def main():
    weights_path, evaluation_dir, data_dir = sys.argv[1:4]
    model = build_model()
    model.load_weights(weights_path)
    images, labels = load_test_set(data_dir)
    probabilities = model.predict(images.reshape(-1, 28, 28, 1), batch_size=1000, verbose=0)
    print(comparison_line(probabilities, labels, evaluation_dir))


if __name__ == "__main__":
    main()
