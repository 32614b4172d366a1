#!/usr/bin/env bash
# The speed phase of tools/device-check.sh, which runs it last with the time its budget has
# left; runs on its own too. Inside --budget SECONDS (default 240), in this order:
#   1. `train_gpu bench` at batch 64, eager and graph launches, for each kernel set and pooling
#      (--kernels classic|fused x --pooling fused|cudnn), the floor at 67 TFLOP/s (an H100/H200
#      SXM's fp32 peak);
#   2. the peers (tools/bench/peers.py) with what is left: train_gpu (default flags, --graph,
#      --graph --kernels fused), PyTorch eager, PyTorch with the whole step in a CUDA graph,
#      JAX jit and torch.compile(mode="reduce-overhead"), same model, data, batch; 3 epochs
#      each (ms/epoch: the median of epochs 2-3); peers.py writes its CSV after each engine, so
#      a cut run keeps what finished.
# Each result is written to DIR as it ends: DIR/rows/speed.tsv (the summary rows device-check adds to
# its table: PASS, FAIL, N/A or INFO), the logs and CSVs, and DIR/tables.txt (the bench rows and
# the peers' table), printed last.
#
#   tools/device-bench.sh [--allow-no-gpu] [--device 0|cpu] [--budget SECONDS] [--out DIR] [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to build/device-bundle (unpacked from BUNDLE_DIR.tar.xz when needed); DIR
# defaults to build/device-bench (replaced; a DIR given that is not empty is refused). --device
# skips the GPU probe (device-check passes what it found); --allow-no-gpu rehearses on a machine
# without a GPU (one short CPU bench row, the peers on the CPU; graph rows and CUDA peers are not
# run). Exit status: 0 all ran, 1 something failed, 2 something could not run (the budget ran
# out), 3 no GPU. Environment: DEVICE_CHECK_TIME_SCALE
# (tools/device-stages.sh), DEVICE_CHECK_PEERS (the peers script), DEVICE_CHECK_PYTHON.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

allow_no_gpu=0
device=""
bundle_dir=build/device-bundle
log_dir=build/device-bench
budget_seconds=240
peer_epochs=3
usage_error() { echo "device-bench: $1 (see --help)" >&2; exit 1; }
while (($# > 0)); do
  case $1 in
    --allow-no-gpu) allow_no_gpu=1 ;;
    --device) (($# > 1)) || usage_error "--device needs 0 or cpu"; device=$2; shift ;;
    --budget)
      if (($# < 2)) || [[ ! $2 =~ ^[0-9]+$ ]]; then usage_error "--budget needs whole seconds"; fi
      budget_seconds=$2; shift ;;
    --out) (($# > 1)) || usage_error "--out needs a folder"; log_dir=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo pipefail/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) bundle_dir=$1 ;;
  esac
  shift
done

if [[ $log_dir == build/device-bench ]]; then
  rm -rf "$log_dir"
elif [[ -e $log_dir && -n $(ls -A "$log_dir" 2>/dev/null) ]]; then
  usage_error "--out $log_dir exists and is not empty; give a new folder (or remove that one)"
fi
mkdir -p "$log_dir" || usage_error "cannot create $log_dir"
log_dir=$(cd "$log_dir" && pwd)
reserve_seconds=2  # writing the tables
summary_title="device-bench"
# shellcheck source=tools/device-stages.sh
source tools/device-stages.sh
clock_start
python=${DEVICE_CHECK_PYTHON:-$(command -v python3 || true)}
peers_script=${DEVICE_CHECK_PEERS:-tools/bench/peers.py}
say() { echo "== device-bench: $*"; }
# The rows device-check reads (DIR/rows/speed.tsv), appended as each item ends.
begin_stage speed
tables=$log_dir/tables.txt
: > "$tables"

# shellcheck source=tools/device-env.sh
source tools/device-env.sh
device_env_bundle "$bundle_dir"
if [[ -z $bundle_abs ]]; then
  say "no bundle at $bundle_dir (bin/train_gpu, or $bundle_dir.tar.xz); run tools/bundle-for-device.sh first"
  record "speed" "FAIL" "no bundle at $bundle_dir"
  exit 1
fi
train_gpu=$bundle_abs/bin/train_gpu
[[ -n ${LD_LIBRARY_PATH:-} && $LD_LIBRARY_PATH == *"$bundle_abs/lib"* ]] || device_env_libraries
device_env_data
[[ -z $mnist_dir ]] && { record "speed" "N/A" "no MNIST in the bundle, data/, shared/ or ../shared/"; exit 2; }

if [[ -z $device ]]; then
  if nvidia-smi --query-gpu=name --format=csv,noheader > /dev/null 2>&1; then
    device=0
  else
    say "no GPU (nvidia-smi found none)"
    ((allow_no_gpu)) || exit 3
    device=cpu
  fi
fi

failed=0
unavailable=0
out_of_time() { record "$1" "N/A" "not run: the speed phase's $budget_seconds s had no time left"; unavailable=1; }

# ---------------------------------------------------------------------------------------------
say "1. train_gpu bench: kernels x pooling, eager and graph launches"
bench_common=(bench --device "$device" --data-dir "$mnist_dir" --batch-sizes 64 --loader device)
variants=(classic:fused fused:fused fused:cudnn classic:cudnn)
if [[ $device == cpu ]]; then
  # The CPU has one kernel set and no graphs: one short row shows the plumbing.
  bench_common+=(--limit-train 1024 --epochs 1 --launch eager)
  variants=(classic:fused)
else
  bench_common+=(--peak-tflops 67)
fi
bench_csvs=()
for index in "${!variants[@]}"; do
  variant=${variants[$index]}
  kernels=${variant%%:*} pooling=${variant##*:}
  name="bench $kernels/$pooling"
  # An equal share of two thirds of what is left (the rest is the peers'), at most 45 s.
  share=$(((budget_seconds - $(elapsed)) * 2 / 3 / (${#variants[@]} - index)))
  ((share > 45)) && share=45
  limit=$(time_left "$share")
  ((limit > 0)) || { out_of_time "$name"; continue; }
  csv=$log_dir/bench-$kernels-$pooling.csv
  bounded "$limit" "$log_dir/bench-$kernels-$pooling.log" "$train_gpu" "${bench_common[@]}" --kernels "$kernels" \
    --pooling "$pooling" --csv "$csv"
  if timed_out; then
    record "$name" "N/A" "cut at its $limit s share of the budget"; unavailable=1
  elif ((status != 0)) || [[ ! -f $csv ]]; then
    record "$name" "FAIL" "exit $status: $(tail -n 1 "$log_dir/bench-$kernels-$pooling.log")"; failed=1
  else
    bench_csvs+=("$csv")
    if [[ -n $python ]] && line=$("$python" tools/device_check_report.py bench "$csv" "$name" 2>&1); then
      printf '%s\n' "$line" >> "$rows_file"
    else
      record "$name" "FAIL" "its CSV could not be read: $line"; failed=1
    fi
    { echo "-- $name --"; sed -n '/^ batch /,$p' "$log_dir/bench-$kernels-$pooling.log" | grep -v '^wrote'; } >> "$tables"
  fi
done

# ---------------------------------------------------------------------------------------------
say "2. the peers"
peers_args=(--data-dir "$mnist_dir" --epochs "$peer_epochs" --train-gpu "$train_gpu" --csv "$log_dir/peers.csv")
for csv in "${bench_csvs[@]}"; do peers_args+=(--train-gpu-csv "$csv"); done
if [[ $device == cpu ]]; then
  peers_args+=(--device cpu --epochs 2 --limit 512 --limit-test 500 --train-gpu-config "eager=")
else
  peers_args+=(--device cuda --train-gpu-config "eager=" --train-gpu-config "graph=--graph --loader device"
               --train-gpu-config "graph-fused=--graph --kernels fused --loader device")
fi
limit=$(time_left "$budget_seconds")
if [[ -z $python ]]; then
  record "peers" "FAIL" "not run: no python3"; failed=1
elif ((limit == 0)); then
  out_of_time "peers"
else
  bounded "$limit" "$log_dir/peers.log" "$python" "$peers_script" "${peers_args[@]}"
  engines=""
  [[ -f $log_dir/peers.csv ]] && engines=$("$python" tools/device_check_report.py peers "$log_dir/peers.csv" 2>&1 | cut -f3)
  if timed_out; then
    record "peers" "N/A" "cut at $limit s; ${engines:-no engine timed} (the rest did not run)"; unavailable=1
  elif ((status != 0)); then
    record "peers" "FAIL" "exit $status: $(tail -n 1 "$log_dir/peers.log")"; failed=1
  else
    record "peers" "INFO" "${engines:-no peers.csv}"
  fi
  {
    echo "-- side by side (tools/bench/peers.py) --"
    if grep -q 'training images per epoch' "$log_dir/peers.log" 2>/dev/null; then
      sed -n '/training images per epoch/,$p' "$log_dir/peers.log"
    elif [[ -f $log_dir/peers.csv ]]; then
      echo "(peers.py did not finish; the engines that did, from $log_dir/peers.csv:)"
      cat "$log_dir/peers.csv"
    fi
  } >> "$tables"
fi

echo
cat "$tables"
echo
write_summary "$log_dir/summary.txt"
cat "$log_dir/summary.txt"
((failed)) && exit 1
((unavailable)) && exit 2
exit 0
