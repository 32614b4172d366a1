#!/usr/bin/env bash
# Creates or updates the Python virtual environment that tests use for PyPI packages Debian does
# not ship (tensorboard, onnx, onnxruntime, tensorflow-cpu...): tools/requirements-test.txt
# installed into DIR, default build/test-venv. CMake's TRAIN_GPU_TEST_PYTHON (default
# build/test-venv/bin/python3) is the interpreter those tests run, TRAIN_GPU_KERAS_PYTHON too by
# default; where it or a package is missing they skip with the reason.
# Reruns are quick: pip runs only when the requirements changed since the last install.
# Usage: tools/make-test-venv.sh [DIR]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
venv=${1:-$repo_root/build/test-venv}
readonly requirements=$repo_root/tools/requirements-test.txt
# Debian's interpreter: the python3 first on PATH may be another one without the venv module.
python=/usr/bin/python3
if [ ! -x "$python" ]; then python=$(command -v python3 || true); fi
if [ -z "$python" ]; then
  echo "make-test-venv: error: no python3 found (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 2
fi

if [ ! -x "$venv/bin/python3" ]; then
  echo "make-test-venv: creating $venv with $("$python" --version 2>&1)" >&2
  if ! "$python" -m venv "$venv" >&2; then
    echo "make-test-venv: error: '$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 2
  fi
fi
readonly stamp=$venv/requirements-test.installed
if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  echo "make-test-venv: $venv is up to date" >&2
  exit 0
fi
echo "make-test-venv: installing tools/requirements-test.txt into $venv" >&2
"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "make-test-venv: done" >&2
