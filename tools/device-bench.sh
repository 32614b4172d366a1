#!/usr/bin/env bash
# The GPU speed run, in one call of under 5 minutes, its table printed LAST:
#   1. graph replay vs eager launches, bitwise (the GPU test that decides whether --graph may
#      become the default) and the fused kernels against their twins;
#   2. `train_gpu bench` at batch 64 for eager and graph launches with each kernel set and each
#      pooling (--kernels classic|fused x --pooling fused|cudnn), floor at the H200's 67 TFLOP/s;
#   3. 10 epochs end to end (`train_gpu --device 0`, start-up to last checkpoint), default flags
#      and --graph --kernels fused, wall time and test accuracy;
#   4. the peers (tools/bench/peers.py): PyTorch eager, PyTorch whole-step CUDA graph,
#      torch.compile(mode="reduce-overhead"), JAX jit, and train_gpu itself, same model, data,
#      batch and epochs, in one table.
#
# Prepare here (no GPU needed), then carry build/device-bundle.tar.xz with the working tree:
#   cmake --preset release && cmake --build --preset release
#   tools/bundle-for-device.sh build/release build/device-bundle
# On the GPU machine, from the repository root:
#   tools/device-bench.sh [--allow-no-gpu] [--epochs N] [BUNDLE_DIR]
# Output goes to $OUT/device-bench when $OUT is set, else build/device-bench. --allow-no-gpu
# rehearses the script on a machine without a GPU (tiny CPU runs; graph rows and CUDA peers are
# reported as not run). Exit status: 0 all ran, 1 something failed, 3 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

allow_no_gpu=0
epochs=5
bundle_dir=build/device-bundle
while (($# > 0)); do
  case $1 in
    --allow-no-gpu) allow_no_gpu=1 ;;
    --epochs) epochs=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) bundle_dir=$1 ;;
  esac
  shift
done

start_seconds=$SECONDS
budget_seconds=${DEVICE_BENCH_BUDGET_SECONDS:-285}  # under the 5 minutes a run may take
log_dir=${OUT:+$OUT/device-bench}
log_dir=${log_dir:-build/device-bench}
mkdir -p "$log_dir"
declare -a summary_names=() summary_values=()
note() { summary_names+=("$1"); summary_values+=("$2"); }
say() { echo "== device-bench: $*"; }
failed=0
time_left() {
  local left=$((budget_seconds - (SECONDS - start_seconds) - 10))
  ((left < 10)) && left=10
  echo "$left"
}
at_most() { local left; left=$(time_left); echo $(( left < $1 ? left : $1 )); }

python=$(command -v python3 || true)
# shellcheck source=tools/device-env.sh
source tools/device-env.sh
device_env_bundle "$bundle_dir"
if [[ -z $bundle_abs ]]; then
  say "no bundle at $bundle_dir (bin/train_gpu, or $bundle_dir.tar.xz); run tools/bundle-for-device.sh first"
  exit 1
fi
train_gpu=$bundle_abs/bin/train_gpu
device_env_libraries
[[ -n $missing_libraries ]] && { say "train_gpu cannot load: $missing_libraries"; note "libraries" "MISSING: $missing_libraries"; failed=1; }
device_env_data
[[ -z $mnist_dir ]] && { say "no MNIST in the bundle, data/, shared/ or ../shared/"; exit 1; }

gpu_name=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
if [[ -z $gpu_name ]]; then
  say "no GPU (nvidia-smi found none)"
  ((allow_no_gpu)) || exit 3
  device=cpu
  note "GPU" "none: rehearsal on the CPU (--allow-no-gpu)"
else
  device=0
  note "GPU" "$gpu_name; $("$train_gpu" --version 2>/dev/null | tr '\n' ' ')"
fi

# ---------------------------------------------------------------------------------------------
say "1. graph vs eager, bitwise; fused kernels vs their twins"
if [[ $device == cpu ]]; then
  note "graph == eager" "not run (no GPU)"
else
  for suite in graph_backend_test fused_kernels_test step_math_test; do
    binary=$bundle_abs/bin/tests/$suite
    [[ -x $binary ]] || { note "$suite" "MISSING from the bundle"; failed=1; continue; }
    timeout "$(at_most 60)" "$binary" --gtest_brief=1 > "$log_dir/$suite.log" 2>&1
    status=$?
    line=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$log_dir/$suite.log" | tr '\n' ' ')
    note "$suite" "${line:-no summary} (exit $status)"
    ((status != 0)) && failed=1
  done
fi

# ---------------------------------------------------------------------------------------------
say "2. train_gpu bench: launch x kernels x pooling"
bench_common=(bench --device "$device" --data-dir "$mnist_dir" --batch-sizes 64 --peak-tflops 67)
[[ $device == cpu ]] && bench_common+=(--limit-train 1024 --epochs 1 --launch eager)
bench_csvs=()
for variant in classic:fused fused:fused fused:cudnn classic:cudnn; do
  kernels=${variant%%:*} pooling=${variant##*:}
  csv=$log_dir/bench-$kernels-$pooling.csv
  timeout "$(at_most 60)" "$train_gpu" "${bench_common[@]}" --loader device --kernels "$kernels" --pooling "$pooling" \
    --csv "$csv" > "$log_dir/bench-$kernels-$pooling.log" 2>&1
  status=$?
  if ((status == 0)) && [[ -f $csv ]]; then
    bench_csvs+=("$csv")
  else
    note "bench $kernels/$pooling" "FAILED (exit $status; $log_dir/bench-$kernels-$pooling.log)"; failed=1
  fi
done

# ---------------------------------------------------------------------------------------------
say "3. 10 epochs end to end (1 short epoch without a GPU)"
for config in "default:" "graph-fused:--graph --kernels fused --loader device"; do
  name=${config%%:*} flags=${config#*:}
  run_dir=$log_dir/run-$name
  rm -rf "$run_dir"
  e2e_args=(--device "$device" --data-dir "$mnist_dir" --run-dir "$run_dir" --no-progress)
  if [[ $device == cpu ]]; then e2e_args+=(--epochs 1 --limit-train 1024 --limit-test 500); else e2e_args+=(--epochs 10); fi
  begin_ns=$(date +%s%N)
  # shellcheck disable=SC2086  # flags are words on purpose
  timeout "$(at_most 60)" "$train_gpu" "${e2e_args[@]}" $flags > "$log_dir/e2e-$name.log" 2>&1
  status=$?
  wall_ms=$(( ($(date +%s%N) - begin_ns) / 1000000 ))
  wall=$(printf '%d.%02d' $((wall_ms / 1000)) $(((wall_ms % 1000) / 10)))
  accuracy=$(tail -n 1 "$run_dir/metrics.csv" 2>/dev/null | cut -d, -f5)
  epochs_run=$(($(wc -l < "$run_dir/metrics.csv" 2>/dev/null || echo 1) - 1))
  note "end to end $name" "$epochs_run epochs, exit $status, wall ${wall} s, final test accuracy ${accuracy:-?}"
  ((status != 0)) && failed=1
done

# ---------------------------------------------------------------------------------------------
say "4. the peers"
peers_args=(--data-dir "$mnist_dir" --epochs "$epochs" --train-gpu "$train_gpu" --csv "$log_dir/peers.csv")
for csv in "${bench_csvs[@]}"; do peers_args+=(--train-gpu-csv "$csv"); done
if [[ $device == cpu ]]; then
  peers_args+=(--device cpu --epochs 2 --limit 512 --limit-test 500 --train-gpu-config "eager=")
else
  peers_args+=(--device cuda --train-gpu-config "eager=" --train-gpu-config "graph=--graph --loader device"
               --train-gpu-config "graph-fused=--graph --kernels fused --loader device")
fi
if [[ -z $python ]]; then
  note "peers" "not run: no python3"; failed=1
else
  timeout "$(at_most 200)" "$python" tools/bench/peers.py "${peers_args[@]}" > "$log_dir/peers.log" 2>&1
  status=$?
  ((status != 0)) && { note "peers" "exit $status (see $log_dir/peers.log)"; failed=1; }
fi

# ---------------------------------------------------------------------------------------------
echo
echo "== device-bench summary ($((SECONDS - start_seconds)) s; logs in $log_dir) =="
for i in "${!summary_names[@]}"; do printf '%-22s %s\n' "${summary_names[$i]}" "${summary_values[$i]}"; done
echo
echo "-- train_gpu bench, batch 64 (kernels x pooling x launch; floor at 67 TFLOP/s) --"
for csv in "${bench_csvs[@]}"; do sed -n '/^ batch launch/,$p' "${csv%.csv}.log" | grep -v '^wrote'; done
echo
echo "-- side by side (tools/bench/peers.py) --"
if grep -q 'training images per epoch' "$log_dir/peers.log" 2>/dev/null; then
  sed -n '/training images per epoch/,$p' "$log_dir/peers.log"
elif [[ -f $log_dir/peers.csv ]]; then
  echo "(peers.py did not finish; the engines that did, from $log_dir/peers.csv:)"
  cat "$log_dir/peers.csv"
fi
exit "$failed"
