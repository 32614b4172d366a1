# What the device scripts (tools/device-check.sh, tools/device-bench.sh) need before they run
# anything from the copied bundle, written once. Sourced; defines functions and runs nothing.
# The caller defines say() (its "== script: ..." lines) and may set $python first.
#
#   device_env_bundle DIR   unpacks DIR.tar.xz when only it is there; reads DIR/manifest.env
#                           (BUNDLE_CREATED, BUNDLE_*_DIR). Sets bundle_abs, "" when there is none.
#   device_env_libraries    finds the folders holding cuDNN/cuBLAS/NCCL on this machine (the pip wheels
#                           nvidia-cudnn-cu13 / nvidia-cublas / nvidia-nccl, a toolkit, system dirs, then /) and
#                           puts them after the bundle's lib/ on LD_LIBRARY_PATH. Sets
#                           library_roots, library_dirs, and missing_libraries (what ldd still
#                           cannot find for train_gpu, "" when all load).
#   device_env_data         finds MNIST (the bundle's, data/, shared/, ../shared/), links the paths
#                           baked into the test binaries at build time to the copied ones, and
#                           exports TRAIN_GPU_MNIST_DIR. Sets mnist_dir, "" when there is none.
#
# Environment: DEVICE_LIBRARY_ROOTS, colon-separated folders to search instead of the defaults
# (the rehearsal tests point it at fake libraries).
# shellcheck shell=bash disable=SC2034  # the variables set here are the caller's

device_env_bundle() {
  local dir=$1
  bundle_abs=""
  if [[ ! -x $dir/bin/train_gpu && -f $dir.tar.xz ]]; then
    say "unpacking $dir.tar.xz"
    mkdir -p "$(dirname "$dir")"
    tar -C "$(dirname "$dir")" -xJf "$dir.tar.xz" || say "unpacking $dir.tar.xz failed"
  fi
  [[ -x $dir/bin/train_gpu ]] || return 0
  bundle_abs=$(cd "$dir" && pwd)
  BUNDLE_CREATED="" BUNDLE_BUILD_DIR="" BUNDLE_SOURCE_DIR="" BUNDLE_MNIST_DIR=""
  # shellcheck disable=SC1091
  [[ -f $bundle_abs/manifest.env ]] && source "$bundle_abs/manifest.env"
  return 0
}

# The folder holding `soname` under the first of library_roots that has it.
device_env_library_dir() {
  local soname=$1 root found
  for root in "${library_roots[@]}"; do
    [[ -d $root ]] || continue
    found=$(timeout 20 find "$root" -xdev -name "$soname" -print -quit 2>/dev/null)
    [[ -n $found ]] && { dirname "$found"; return 0; }
  done
  return 1
}

device_env_libraries() {
  local root dir soname interpreter=${python:-$(command -v python3 || true)}
  library_roots=()
  if [[ -n ${DEVICE_LIBRARY_ROOTS:-} ]]; then
    IFS=: read -r -a library_roots <<< "$DEVICE_LIBRARY_ROOTS"
  else
    if [[ -n $interpreter ]]; then
      while IFS= read -r root; do [[ -d $root ]] && library_roots+=("$root"); done < <(
        "$interpreter" -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null)
    fi
    library_roots+=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu /usr/local/lib /opt /)
  fi
  library_dirs=("$bundle_abs/lib")
  for soname in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
    if dir=$(device_env_library_dir "$soname") && [[ " ${library_dirs[*]} " != *" $dir "* ]]; then
      library_dirs+=("$dir")
    fi
  done
  LD_LIBRARY_PATH=$(IFS=:; echo "${library_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  missing_libraries=$(ldd "$bundle_abs/bin/train_gpu" 2>&1 | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
  missing_libraries=${missing_libraries% }
}

# Links the build-time path $1 to $2 when $1 is absent and the filesystem lets us (best effort:
# tests that need it fail or skip otherwise).
device_env_link_baked_path() {
  local baked actual=$2
  baked=$(realpath -m "$1" 2>/dev/null || echo "$1")  # /work/main/../shared -> /work/shared
  [[ -n $1 && ! -e $baked && -e $actual ]] || return 0
  mkdir -p "$(dirname "$baked")" 2>/dev/null && ln -s "$actual" "$baked" 2>/dev/null &&
    say "linked $baked -> $actual"
  return 0
}

device_env_data() {
  local candidate
  mnist_dir=""
  for candidate in "$bundle_abs/data/mnist" data/mnist shared/data/mnist ../shared/data/mnist; do
    if compgen -G "$candidate/*ubyte*" > /dev/null; then mnist_dir=$(cd "$candidate" && pwd); break; fi
  done
  device_env_link_baked_path "${BUNDLE_BUILD_DIR:-}" "$bundle_abs/bin"
  device_env_link_baked_path "${BUNDLE_SOURCE_DIR:-}" "$PWD"
  device_env_link_baked_path "${BUNDLE_MNIST_DIR:-}" "$mnist_dir"
  [[ -n $mnist_dir ]] && export TRAIN_GPU_MNIST_DIR=$mnist_dir
  return 0
}
