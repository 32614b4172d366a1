#!/usr/bin/env bash
# Packs a CUDA build for a GPU node that has the NVIDIA driver, cuDNN and cuBLAS (e.g. as pip
# wheels) but none of Debian's -dev libraries and maybe no network.
#
#   tools/bundle-for-device.sh [BUILD_DIR] [BUNDLE_DIR]
#     BUILD_DIR   a Release build with CUDA on      (default: build/release)
#     BUNDLE_DIR  where the bundle goes             (default: build/device-bundle, ignored by git)
#
# The bundle holds: bin/train_gpu and bin/tests/* (stripped), lib/ with every shared library
# they load that the GPU node may lack (oneDNN, libgomp, libpng, libjpeg, libcrypto, protobuf, ONNX's
# libonnx_proto and libonnx (the ONNX tests' checker), cudart ...; never libc/libstdc++/libz, the
# driver's libcuda, or cuDNN/cuBLAS/NCCL, which are too large and which the node has), data/mnist/
# (the .gz files, for the tests and the training run) and manifest.env with the absolute paths
# baked into the test binaries. The directory is also packed as BUNDLE_DIR.tar.xz (oneDNN alone
# is 40 MB, 7 MB packed; the README gives the whole bundle's packed size): copy that one file to
# the node, where tools/device-check.sh unpacks it. BUNDLE_MAX_MIB, when set, fails a bundle
# packed larger (where it must travel through a size limit).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build/release}
bundle_dir=${2:-build/device-bundle}
max_mib=${BUNDLE_MAX_MIB:-}

die() { echo "bundle-for-device: $*" >&2; exit 1; }

[[ -x $build_dir/train_gpu ]] || die "$build_dir/train_gpu not found; build first: cmake --preset release && cmake --build --preset release"
[[ -f $build_dir/CMakeCache.txt ]] || die "$build_dir is not a CMake build directory"
# ldd's whole output first: `ldd | grep -q` under pipefail fails whenever grep stops reading early.
libraries=$(ldd "$build_dir/train_gpu")
grep -q 'libcudart' <<< "$libraries" ||
  die "$build_dir/train_gpu does not link the CUDA runtime: configure with nvcc on PATH (TRAIN_GPU_CUDA=ON)"

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" | head -n 1; }
build_abs=$(cd "$build_dir" && pwd)
source_abs=$(cache_value CMAKE_HOME_DIRECTORY)
mnist_dir=$(cache_value TRAIN_GPU_MNIST_DIR)

rm -rf "$bundle_dir" "$bundle_dir.tar.xz"
mkdir -p "$bundle_dir/bin/tests" "$bundle_dir/lib" "$bundle_dir/data/mnist"

# Every test binary but two that check this build machine's own artifacts and have nothing to
# learn on the GPU node: the device check's rehearsals (the script's logic, with fakes) and
# adam_ptx_test (reads a PTX file of the build tree, which does not travel).
binaries=("$build_dir/train_gpu")
while IFS= read -r test_binary; do binaries+=("$test_binary"); done < <(
  find "$build_dir/tests" -maxdepth 2 -type f -perm -u+x -name '*_test' \
    ! -name device_check_rehearsal_test ! -name adam_ptx_test | sort)

for binary in "${binaries[@]}"; do
  if [[ $binary == "$build_dir/train_gpu" ]]; then target=$bundle_dir/bin/train_gpu
  else target=$bundle_dir/bin/tests/$(basename "$binary"); fi
  cp "$binary" "$target"
  strip --strip-unneeded "$target" 2>/dev/null || true
done

# Libraries the GPU node provides itself (system, driver, or the cuDNN/cuBLAS/NCCL wheels; NCCL's
# 200 MB would not fit the bundle).
provided='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|librt\.|libpthread\.|libstdc\+\+|libgcc_s|libz\.|libcuda\.|libnvidia|libcudnn|libcublas|libnccl)'
declare -A copied=()
for binary in "${binaries[@]}"; do
  while read -r name path; do
    [[ -n $path && -f $path ]] || continue
    [[ $name =~ $provided ]] && continue
    [[ -n ${copied[$name]:-} ]] && continue
    cp -L "$path" "$bundle_dir/lib/$name"
    copied[$name]=1
  done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
done

if compgen -G "$mnist_dir/*ubyte*" > /dev/null; then
  cp "$mnist_dir"/*ubyte* "$bundle_dir/data/mnist/"
else
  echo "bundle-for-device: warning: no MNIST files in $mnist_dir; the MNIST test and the training run will be skipped" >&2
fi

cat > "$bundle_dir/manifest.env" <<MANIFEST
# Absolute paths baked into the test binaries at build time (TRAIN_GPU_BINARY, TRAIN_GPU_SOURCE_DIR,
# TRAIN_GPU_MNIST_DIR); device-check.sh links them to the copied ones where it can.
BUNDLE_BUILD_DIR='$build_abs'
BUNDLE_SOURCE_DIR='$source_abs'
BUNDLE_MNIST_DIR='$mnist_dir'
BUNDLE_CREATED='$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)'
MANIFEST

archive=$bundle_dir.tar.xz
tar -C "$(dirname "$bundle_dir")" -cf - "$(basename "$bundle_dir")" | xz -T0 -6 > "$archive"
bytes=$(du -sb "$bundle_dir" | cut -f1)
archive_bytes=$(stat -c %s "$archive")
echo "bundle-for-device: $bundle_dir: ${#binaries[@]} binaries, ${#copied[@]} libraries ($(printf '%s ' "${!copied[@]}")), $((bytes / 1024 / 1024)) MiB"
echo "bundle-for-device: $archive: $((archive_bytes / 1024 / 1024)) MiB; copy it with the source tree and run tools/device-check.sh on the GPU node"
[[ -z $max_mib ]] || ((archive_bytes <= max_mib * 1024 * 1024)) ||
  die "$archive is $((archive_bytes / 1024 / 1024)) MiB, over BUNDLE_MAX_MIB=$max_mib"
