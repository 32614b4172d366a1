#!/usr/bin/env bash
# Installs everything train_gpu needs to build and test, from Debian/Ubuntu packages.
# The CUDA toolkit with cuDNN is not a Debian package: it is found when present (nvcc on PATH or
# /usr/local/cuda), and without it the build is CPU-only (see README).
# Usage: sudo tools/install-deps.sh        (as root, sudo is not needed)
set -euo pipefail

# libopenmpi-dev and openmpi-bin (mpirun): training over several processes (host/distributed/);
# without them the build trains in one process only.
# libjpeg-dev is libjpeg-turbo's on both Debian (libjpeg62-turbo-dev) and Ubuntu
# (libjpeg-turbo8-dev), where the -turbo package names differ.
packages=(
  cmake ninja-build g++ git pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libpng-dev libjpeg-dev libarchive-dev libssl-dev
  libcli11-dev nlohmann-json3-dev libdnnl-dev librandom123-dev
  libprotobuf-dev protobuf-compiler libonnx-dev
  libopenmpi-dev openmpi-bin
  python3 python3-numpy python3-matplotlib python3-venv
  curl ca-certificates xz-utils
)
# Fashion-MNIST ships as a Debian package; not every distribution (e.g. Ubuntu) has it.
optional_packages=(dataset-fashion-mnist)

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
for package in "${optional_packages[@]}"; do
  if apt-cache show "$package" >/dev/null 2>&1; then
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$package"
  else
    echo "install-deps: $package is not available here; its tests will be skipped" >&2
  fi
done
echo "install-deps: done"
