"""Checks tools/to_keras.py's files against `train_gpu evaluate` of the same checkpoint, opened
the way a Keras user opens them.

Usage: keras_matches_evaluate.py --keras MODEL.keras EVALUATION_DIR DATA_DIR
       keras_matches_evaluate.py --weights MODEL.weights.h5 README.md EVALUATION_DIR DATA_DIR

The model is loaded and run in a fresh, isolated Python (python -I: no PYTHONPATH, no current
directory on the path) that imports numpy and keras and nothing of this repository: a .keras file
through keras.models.load_model as it is, a weights file into the plain keras.Sequential that
README.md's Python snippet builds (the block that calls model.load_weights), run verbatim. Its
probabilities on all test images of DATA_DIR (byte / 255, NHWC) are compared here with
EVALUATION_DIR's probabilities.npy, and so are its logits (the last Dense without its softmax,
computed in Keras from the layer below) with evaluate's as probabilities.npy holds them: the
centred log-probabilities log p_i - mean_j log p_j equal the centred logits z_i - mean_j z_j,
since log softmax(z)_i = z_i - logsumexp(z). Prints one line of key=value pairs
(evaluate_reference.py) for keras_python_test.cpp to judge, with the loaded model's layer types
and the number of modules from tools/ or tests/ the loading Python had imported.
"""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from evaluate_reference import comparison_line, load_test_set

REPOSITORY = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Runs in the isolated Python: argv = [images.npy, probabilities.npy, logits.npy, repository];
# `model` is defined by the loading code placed before it.
PREDICT = """
import os, sys
import keras
import numpy as np
images = np.load(sys.argv[1]).reshape(-1, 28, 28, 1)
np.save(sys.argv[2], model.predict(images, batch_size=1000, verbose=0))
hidden = keras.Model(model.inputs, model.layers[-2].output).predict(images, batch_size=1000, verbose=0)
kernel, bias = model.layers[-1].get_weights()
np.save(sys.argv[3], hidden @ kernel + bias)
ours = [os.path.join(sys.argv[4], d) + os.sep for d in ("tools", "tests")]
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
imported = [f for f in files if f and any(os.path.realpath(f).startswith(d) for d in ours)]
print("layers=" + ",".join(type(layer).__name__ for layer in model.layers))
print("repository_modules=%d" % len(imported))
"""


def readme_snippet(readme, weights_path):
    """README.md's Python block that builds the Sequential and loads model.weights.h5."""
    with open(readme) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    snippets = [b for b in blocks if "model.load_weights(" in b and "keras.Sequential(" in b]
    if len(snippets) != 1:
        raise SystemExit(f"{readme}: expected one ```python block with keras.Sequential( and model.load_weights(, "
                         f"found {len(snippets)}")
    if '"model.weights.h5"' not in snippets[0]:
        raise SystemExit(f'{readme}: the snippet does not load "model.weights.h5"')
    return snippets[0].replace('"model.weights.h5"', repr(weights_path))


def main():
    if sys.argv[1] == "--keras":
        model_path, evaluation_dir, data_dir = sys.argv[2:5]
        loading = "import keras\nmodel = keras.models.load_model(%r)\n" % model_path
    else:
        weights_path, readme, evaluation_dir, data_dir = sys.argv[2:6]
        loading = readme_snippet(readme, weights_path)
    images, labels = load_test_set(data_dir)
    with tempfile.TemporaryDirectory() as scratch:
        images_path = os.path.join(scratch, "images.npy")
        probabilities_path = os.path.join(scratch, "probabilities.npy")
        logits_path = os.path.join(scratch, "logits.npy")
        np.save(images_path, images)
        child = subprocess.run([sys.executable, "-I", "-c", loading + PREDICT, images_path, probabilities_path, logits_path,
                                REPOSITORY], cwd=scratch, capture_output=True, text=True)
        if child.returncode != 0:
            raise SystemExit("the isolated Python failed:\n" + child.stdout + child.stderr)
        fields = dict(line.split("=", 1) for line in child.stdout.splitlines() if "=" in line)
        probabilities = np.load(probabilities_path)
        logits = np.load(logits_path).astype(np.float64)
    # Rows where evaluate's float32 probabilities all stayed above 0 (no log of an underflow).
    reference = np.load(os.path.join(evaluation_dir, "probabilities.npy")).astype(np.float64)
    rows = (reference > 0).all(axis=1)
    log_reference = np.log(reference[rows])
    centred_reference = log_reference - log_reference.mean(axis=1, keepdims=True)
    centred_logits = logits[rows] - logits[rows].mean(axis=1, keepdims=True)
    print(comparison_line(probabilities, labels, evaluation_dir, layers=fields.get("layers"),
                          repository_modules=fields.get("repository_modules"), logit_rows=int(rows.sum()),
                          logit_max_abs_difference=f"{np.abs(centred_logits - centred_reference).max():.3e}",
                          logit_max_abs=f"{np.abs(centred_reference).max():.3e}"))


if __name__ == "__main__":
    main()
