#!/usr/bin/env bash
# Profiles a few training steps of train_gpu with Nsight Compute (ncu, on a GPU node)
# or Nsight Systems (nsys, where installed). train_gpu's --profile-steps A:B brackets steps A..B
# with cudaProfilerStart/Stop, so the profiler skips start-up, data loading, cuDNN's algorithm
# search and graph capture, and records only steady-state steps; each step sits in the NVTX
# range train_gpu@train_step (with load_batch/forward/backward/optimizer inside when eager).
#
#   tools/profile.sh [--tool ncu|nsys] [--steps A:B] [--out DIR] [--binary BIN] [--dry-run]
#                    [-- TRAIN_GPU_FLAGS...]
#
# Defaults: ncu, steps 200:202 (mid-epoch, all batch-64 steps), out build/profile, binary
# build/release/train_gpu (else the device bundle's). TRAIN_GPU_FLAGS are added to
#   --device 0 --epochs 1 --limit-train 19200 --no-progress
# e.g. -- --graph --kernels fused --data-dir ../shared/data/mnist. --dry-run prints the command.
# docs/performance.md says how to read the result.
set -euo pipefail
cd "$(dirname "$0")/.."

tool=ncu
steps=200:202
out=build/profile
binary=""
dry_run=0
while (($# > 0)); do
  case $1 in
    --tool) tool=$2; shift ;;
    --steps) steps=$2; shift ;;
    --out) out=$2; shift ;;
    --binary) binary=$2; shift ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    --) shift; break ;;
    *) echo "profile.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $steps =~ ^[0-9]+:[0-9]+$ ]] || { echo "profile.sh: --steps '$steps': expected A:B" >&2; exit 2; }
if [[ -z $binary ]]; then
  for candidate in build/release/train_gpu build/device-bundle/bin/train_gpu; do
    [[ -x $candidate ]] && { binary=$candidate; break; }
  done
fi
[[ -n $binary ]] || { echo "profile.sh: no train_gpu binary; build it or pass --binary" >&2; exit 2; }

train=("$binary" --device 0 --epochs 1 --limit-train 19200 --no-progress --run-dir "$out/run" --profile-steps "$steps" "$@")
case $tool in
  ncu)
    # --graph-profiling node: kernels inside replayed CUDA graphs are profiled one by one.
    command=(ncu --profile-from-start off --nvtx --graph-profiling node --set full --target-processes all
             -o "$out/train_gpu_steps_${steps/:/-}" -f "${train[@]}") ;;
  nsys)
    # shellcheck disable=SC2054  # --trace takes a comma-separated list
    command=(nsys profile --capture-range=cudaProfilerApi --capture-range-end=stop --trace=cuda,nvtx,cublas,cudnn
             --cuda-graph-trace=node -o "$out/train_gpu_steps_${steps/:/-}" -f true "${train[@]}") ;;
  *) echo "profile.sh: --tool '$tool': expected ncu or nsys" >&2; exit 2 ;;
esac

echo "${command[*]}"
((dry_run)) && exit 0
command -v "$tool" > /dev/null || { echo "profile.sh: $tool is not on PATH here" >&2; exit 3; }
mkdir -p "$out"
"${command[@]}"
echo "profile.sh: wrote $out/train_gpu_steps_${steps/:/-}.$([[ $tool == ncu ]] && echo ncu-rep || echo nsys-rep)"
