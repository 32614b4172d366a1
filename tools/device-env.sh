# Sourced by the device scripts (tools/device-bench.sh; device-check.sh can share it): finds the
# bundle, unpacks it when only its .tar.xz was carried, and points LD_LIBRARY_PATH at the bundle's
# lib/ and at the machine's cuDNN/cuBLAS (pip wheels nvidia-cudnn-cu13 / nvidia-cublas, or a
# toolkit), and at the carried MNIST. Sets: bundle_abs, mnist_dir, python, missing_libraries.
#   source tools/device-env.sh BUNDLE_DIR
# shellcheck shell=bash disable=SC2034  # the variables set here are the caller's

device_env_bundle=${1:-build/device-bundle}
if [[ ! -x $device_env_bundle/bin/train_gpu && -f $device_env_bundle.tar.xz ]]; then
  echo "== unpacking $device_env_bundle.tar.xz"
  mkdir -p "$(dirname "$device_env_bundle")"
  tar -C "$(dirname "$device_env_bundle")" -xJf "$device_env_bundle.tar.xz" || echo "== unpacking failed"
fi
bundle_abs=""
[[ -x $device_env_bundle/bin/train_gpu ]] && bundle_abs=$(cd "$device_env_bundle" && pwd)
python=$(command -v python3 || true)

# The directory holding `soname`: the pip wheels first (nvidia.__path__), then the usual places.
device_env_library_dir() {
  local soname=$1 found="" roots=() root
  if [[ -n $python ]]; then
    while IFS= read -r root; do [[ -d $root ]] && roots+=("$root"); done < <(
      "$python" -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null)
  fi
  roots+=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu /usr/local/lib /opt)
  for root in "${roots[@]}"; do
    [[ -d $root ]] || continue
    found=$(find "$root" -name "$soname" -print -quit 2>/dev/null)
    [[ -n $found ]] && { dirname "$found"; return 0; }
  done
  found=$(find / -xdev -name "$soname" -print -quit 2>/dev/null)
  [[ -n $found ]] && dirname "$found"
}

missing_libraries=""
if [[ -n $bundle_abs ]]; then
  device_env_dirs=("$bundle_abs/lib")
  for soname in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
    dir=$(device_env_library_dir "$soname")
    [[ -n $dir ]] && device_env_dirs+=("$dir")
  done
  LD_LIBRARY_PATH=$(IFS=:; echo "${device_env_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  missing_libraries=$(ldd "$bundle_abs/bin/train_gpu" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')
fi

mnist_dir=""
for candidate in ${bundle_abs:+"$bundle_abs/data/mnist"} data/mnist shared/data/mnist ../shared/data/mnist; do
  if compgen -G "$candidate/*ubyte*" > /dev/null; then mnist_dir=$(cd "$candidate" && pwd); break; fi
done
