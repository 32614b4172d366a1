#!/usr/bin/env bash
# The whole check of a build on a GPU node, in ONE run of at most 540 s (9 minutes) by default,
# in this order, each phase capped from the budget and its results written as it ends:
#   setup         the bundle unpacked, cuDNN/cuBLAS found, nvidia-smi's GPU, the versions built
#                 against and loaded
#   tests         every test binary (GPU suites by name): passed/failed/skipped by suite
#   training      10 epochs of MNIST on GPU 0: per-epoch accuracies, ms/epoch, wall time, and
#                 the cuDNN algorithms it chose (from its config.json)
#   determinism   two --deterministic processes and a resume: identical epoch-2 tensors
#   memcheck,     compute-sanitizer on a short training, side by side (racecheck: this
#   racecheck     project's kernels only)
#   speed         with the time that remains (tools/device-bench.sh): train_gpu bench for each
#                 kernel set and pooling, eager and graph launches, then the peers
#                 (tools/bench/peers.py: PyTorch, torch.compile, JAX beside train_gpu)
# and the summary table LAST. Every row is PASS, FAIL, N/A (could not run here: no GPU, no data,
# the sanitizer refused the device, the budget ran out) or INFO.
#
# Build and bundle on any machine with the toolchain (no GPU needed):
#   cmake --preset release && cmake --build --preset release
#   tools/bundle-for-device.sh build/release build/device-bundle   # -> build/device-bundle.tar.xz
# Copy the source tree and build/device-bundle.tar.xz to the GPU node, then from the tree's root:
#   tools/device-check.sh [--allow-no-gpu] [--out DIR] [--budget SECONDS] [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to build/device-bundle; when only BUNDLE_DIR.tar.xz is there, it is
# unpacked first. Results (logs, rows/*.tsv, summary.txt rewritten after every phase) go to DIR,
# default build/device-check (replaced); a DIR given that exists and is not empty is refused, so
# no earlier results are overwritten. --allow-no-gpu runs what works without a GPU (GPU test
# cases skip; training, determinism and bench run briefly on the CPU) to check this script itself.
# Exit status: 0 all ran and passed; 1 something FAILED; 2 nothing failed but something could
# not run; 3 no GPU (without --allow-no-gpu).
#
# Phase caps in seconds (environment), which with setup's 30 and the summary's 10 add up to the
# default budget; a phase that ends early leaves its time to the speed phase:
#   DEVICE_CHECK_TEST_SECONDS 150, DEVICE_CHECK_TRAIN_SECONDS 90,
#   DEVICE_CHECK_DETERMINISM_SECONDS 60, DEVICE_CHECK_SANITIZER_SECONDS 120 (both side by side),
#   the speed phase at least 80.
# Other environment, for rehearsals (tests/device_check_rehearsal_test.cpp) and unusual nodes:
#   DEVICE_CHECK_BUDGET_SECONDS   the whole run's budget (--budget wins)
#   DEVICE_CHECK_TIME_SCALE       real seconds per budget second (tools/device-stages.sh)
#   DEVICE_CHECK_NVIDIA_SMI       nvidia-smi to use ("none": act as if absent)
#   DEVICE_CHECK_SANITIZER        compute-sanitizer to use ("none": act as if absent)
#   DEVICE_CHECK_TEST_JOBS        test binaries run at once (default: half the cores, at most 8)
#   DEVICE_CHECK_PEERS            the peers script (default tools/bench/peers.py)
#   DEVICE_LIBRARY_ROOTS          colon-separated folders to search for libcudnn/libcublas
#                                 (default: the pip nvidia/ packages, the CUDA toolkit, system
#                                 dirs, /; tools/device-env.sh)
#   DEVICE_CHECK_MIN_ACCURACY     the 10-epoch test accuracy required on the GPU (default 0.985)
#   DEVICE_CHECK_PYTHON           the Python 3 that reads the reports (default: python3 on PATH)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

allow_no_gpu=0
bundle_dir=build/device-bundle
out_dir=""
budget_seconds=${DEVICE_CHECK_BUDGET_SECONDS:-540}
usage_error() { echo "device-check: $1 (see --help)" >&2; exit 1; }
while (($# > 0)); do
  case $1 in
    --allow-no-gpu) allow_no_gpu=1 ;;
    --out) (($# > 1)) || usage_error "--out needs a folder"; out_dir=$2; shift ;;
    --budget)
      if (($# < 2)) || [[ ! $2 =~ ^[0-9]+$ ]]; then usage_error "--budget needs whole seconds"; fi
      budget_seconds=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo pipefail/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) bundle_dir=$1 ;;
  esac
  shift
done

test_cap=${DEVICE_CHECK_TEST_SECONDS:-150}
train_cap=${DEVICE_CHECK_TRAIN_SECONDS:-90}
determinism_cap=${DEVICE_CHECK_DETERMINISM_SECONDS:-60}
sanitizer_cap=${DEVICE_CHECK_SANITIZER_SECONDS:-120}
reserve_seconds=10  # the summary's
min_accuracy=${DEVICE_CHECK_MIN_ACCURACY:-0.985}
if [[ -n $out_dir ]]; then
  if [[ -e $out_dir && -n $(ls -A "$out_dir" 2>/dev/null) ]]; then
    echo "device-check: --out $out_dir exists and is not empty; give a new folder (or remove that one)" >&2
    exit 1
  fi
  log_dir=$out_dir
else
  log_dir=build/device-check
  rm -rf "$log_dir"
fi
mkdir -p "$log_dir/rows" || { echo "device-check: cannot create $log_dir" >&2; exit 1; }
log_dir=$(cd "$log_dir" && pwd)
python=${DEVICE_CHECK_PYTHON:-$(command -v python3 || true)}
report=(false)
[[ -n $python ]] && report=("$python" tools/device_check_report.py)
# shellcheck source=tools/device-stages.sh
source tools/device-stages.sh
clock_start

# Rows that device_check_report.py prints, or one FAIL row when it cannot run.
record_report() {
  local output
  if output=$("${report[@]}" "$@" 2>&1) && [[ -n $output ]]; then
    printf '%s\n' "$output" >> "$rows_file"
  else
    record "report $1" "FAIL" "device_check_report.py $1 failed: ${output:-no python3}"
  fi
}
say() { echo "== device-check: $*"; }
# After every phase: a run cut off from outside still leaves the table of what it did.
phase_done() { write_summary "$log_dir/summary.txt"; }
print_summary() {
  write_summary "$log_dir/summary.txt"
  local exit_status=$?
  echo
  cat "$log_dir/summary.txt"
  return "$exit_status"
}

# ---------------------------------------------------------------------------------------------
# Setup: the bundle, its libraries, the GPU, the versions. Everything after needs these.

begin_stage 10-setup
# shellcheck source=tools/device-env.sh
source tools/device-env.sh
device_env_bundle "$bundle_dir"
if [[ -z $bundle_abs ]]; then
  say "no bundle at $bundle_dir (expected bin/train_gpu, or $bundle_dir.tar.xz); build and run tools/bundle-for-device.sh first"
  record "bundle" "FAIL" "missing: $bundle_dir (nor $bundle_dir.tar.xz)"
  print_summary
  exit 1
fi
record "bundle" "INFO" "$bundle_abs${BUNDLE_CREATED:+ (built $BUNDLE_CREATED)}"
[[ -z $python ]] && record "python3" "FAIL" "not found: the test reports and metrics cannot be read"

# cuDNN and cuBLAS come from the machine (the pip wheels or a toolkit): the exact sonames the
# binaries need.
device_env_libraries
if [[ -n $missing_libraries ]]; then
  say "train_gpu cannot load: $missing_libraries"
  record "libraries" "FAIL" "not found: $missing_libraries (searched ${library_roots[*]})"
else
  record "libraries" "PASS" "all found; LD_LIBRARY_PATH gets ${library_dirs[*]:1}"
fi
device_env_data

nvidia_smi=${DEVICE_CHECK_NVIDIA_SMI:-$(command -v nvidia-smi || true)}
[[ $nvidia_smi == none ]] && nvidia_smi=""
gpu_line=""
if [[ -n $nvidia_smi ]]; then
  gpu_line=$(timeout 30 "$nvidia_smi" --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null |
             head -n 1)
fi
if [[ -z $gpu_line ]]; then
  say "no GPU: ${nvidia_smi:-nvidia-smi} found no device on this machine"
  if ((allow_no_gpu == 0)); then
    record "GPU" "FAIL" "none (${nvidia_smi:-no nvidia-smi}: no device); --allow-no-gpu checks the rest on the CPU"
    print_summary
    exit 3
  fi
  record "GPU" "N/A" "none (${nvidia_smi:-no nvidia-smi}: no device); --allow-no-gpu: the CPU stands in"
  device=cpu
else
  record "GPU" "PASS" "$gpu_line (name, memory, driver)"
  device=0
fi
versions=$(timeout 30 "$bundle_abs/bin/train_gpu" --version 2>&1)
built=$(sed -n 's/^built against //p' <<< "$versions")
loaded=$(sed -n 's/^loaded: //p' <<< "$versions")
record "versions" "INFO" "built: ${built:-?}; loaded: ${loaded:-? ($(head -n 1 <<< "$versions"))}"
phase_done

# A phase with no time left is not run: one N/A row says so.
out_of_time() { record "$1" "N/A" "not run: the $budget_seconds s budget had no time left"; }

# ---------------------------------------------------------------------------------------------
# Tests: every binary directly (ctest's files hold this build's absolute paths), several at a
# time, all bounded by the phase's deadline, each with a JSON report; then one table of
# passed/failed/skipped by suite.

stage_tests() {
  begin_stage 20-tests
  local binary source name parallel threads deadline test_binaries=() gpu_test_names=() ordered=()
  deadline=$(($(elapsed) + $(time_left "$test_cap")))
  ((deadline > $(elapsed))) || { out_of_time tests; return; }
  say "tests"
  mkdir -p "$log_dir/tests"
  for binary in "$bundle_abs"/bin/tests/*_test; do [[ -x $binary ]] && test_binaries+=("$binary"); done
  if ((${#test_binaries[@]} == 0)); then
    record "tests" "FAIL" "no test binaries in $bundle_abs/bin/tests"
    return
  fi
  for source in tests/gpu/*_test.cpp tests/gpu/*_test.cu; do
    [[ -f $source ]] && gpu_test_names+=("$(basename "${source%.*}")")
  done
  # GPU binaries first: they are what this machine is for.
  for binary in "${test_binaries[@]}"; do
    [[ " ${gpu_test_names[*]} " == *" $(basename "$binary") "* ]] && ordered+=("$binary")
  done
  for binary in "${test_binaries[@]}"; do [[ " ${ordered[*]} " == *" $binary "* ]] || ordered+=("$binary"); done
  parallel=${DEVICE_CHECK_TEST_JOBS:-$(($(nproc) / 2))}
  ((parallel < 1)) && parallel=1
  ((parallel > 8)) && parallel=8
  threads=$(($(nproc) / parallel))
  ((threads < 1)) && threads=1
  for binary in "${ordered[@]}"; do
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n; done
    (
      name=$(basename "$binary")
      limit=$((deadline - $(elapsed)))
      ((limit < 1)) && limit=1
      # The cores shared out: 8 binaries of 16 OpenMP threads each would oversubscribe 16 cores.
      OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
        timeout --kill-after="$(real_seconds 3)" "$(real_seconds "$limit")" "$binary" \
        --gtest_output="json:$log_dir/tests/$name.json" > "$log_dir/tests/$name.log" 2>&1
      echo "$? $limit" > "$log_dir/tests/$name.status"
    ) &
  done
  wait
  record_report tests "$log_dir/tests" "$device" "${gpu_test_names[*]}" "${test_binaries[@]}"
  [[ -f $log_dir/tests/suites.txt ]] && cat "$log_dir/tests/suites.txt"
}

# ---------------------------------------------------------------------------------------------
# Training: 10 epochs of MNIST on GPU 0 (one short epoch on the CPU with --allow-no-gpu).

stage_training() {
  begin_stage 30-training
  local train_args=(--device 0 --epochs 10) required=$min_accuracy limit started
  if [[ $device == cpu ]]; then
    train_args=(--device cpu --epochs 1 --limit-train 2048 --limit-test 1000)
    required=0  # one short CPU epoch proves the plumbing, not the accuracy
  fi
  if [[ -z $mnist_dir ]]; then
    record "training" "N/A" "no MNIST data in the bundle, shared/ or ../shared/"
    return
  fi
  limit=$(time_left "$train_cap")
  ((limit > 0)) || { out_of_time training; return; }
  say "training: train_gpu ${train_args[*]}"
  started=$(date +%s%N)
  bounded "$limit" "$log_dir/train.log" "$bundle_abs/bin/train_gpu" "${train_args[@]}" --data-dir "$mnist_dir" \
    --run-dir "$log_dir/run" --no-progress
  grep -E '^(device|cudnn|epoch [0-9])' "$log_dir/train.log"
  if timed_out; then
    record "training" "FAIL" "timed out after $limit s (see $log_dir/train.log)"
  else
    record_report training "$log_dir/run" "$status" "$required" "${train_args[*]}"
    # Start-up to the last checkpoint: the end-to-end figure beside the speed phase's peers.
    record "training wall" "INFO" "$(awk -v ns=$(($(date +%s%N) - started)) -v scale="$time_scale" \
      'BEGIN { printf "%.1f", ns / 1e9 / scale }') s, start-up to the last checkpoint"
  fi
}

# ---------------------------------------------------------------------------------------------
# Determinism across processes: two fresh --deterministic runs of 2 epochs, and a third that runs
# 1 epoch and resumes for the 2nd; the tensors of the three epoch-2 checkpoints must be identical.

stage_determinism() {
  begin_stage 40-determinism
  if [[ -z $mnist_dir ]]; then record "determinism" "N/A" "no MNIST data"; return; fi
  local deadline problem=""
  deadline=$(($(elapsed) + $(time_left "$determinism_cap")))
  ((deadline > $(elapsed))) || { out_of_time determinism; return; }
  say "determinism: three --deterministic processes"
  local common=(--device "$device" --deterministic --data-dir "$mnist_dir" --limit-train 6400 --limit-test 1000
                --no-progress)
  [[ $device == cpu ]] && common=(--device cpu --deterministic --data-dir "$mnist_dir" --limit-train 640
                                  --limit-test 200 --no-progress)
  run_once() {  # NAME ARGS...: one bounded run; stops at the first problem (the rest is moot)
    local name=$1 limit
    shift
    [[ -z $problem ]] || return 0
    limit=$((deadline - $(elapsed)))
    ((limit > 0)) || { problem="$name not run: the phase's $determinism_cap s were used up"; return 0; }
    bounded "$limit" "$log_dir/determinism-$name.log" "$bundle_abs/bin/train_gpu" "${common[@]}" "$@"
    if timed_out; then problem="$name timed out after $limit s"
    elif ((status != 0)); then problem="$name exit $status: $(tail -n 1 "$log_dir/determinism-$name.log")"; fi
  }
  run_once a --epochs 2 --run-dir "$log_dir/determinism/a"
  run_once b --epochs 2 --run-dir "$log_dir/determinism/b"
  run_once c --epochs 1 --run-dir "$log_dir/determinism/c"
  run_once c-resumed --epochs 2 --resume "$log_dir/determinism/c"
  if [[ -n $problem ]]; then
    record "determinism" "FAIL" "$problem"
  else
    record_report determinism "$log_dir/determinism"
  fi
}

# ---------------------------------------------------------------------------------------------
# compute-sanitizer on a short --deterministic training: 200 training images (3 full batches and
# a partial one), 150 test images (one full test batch and a partial one), then the final
# evaluation, so every kernel and every partial-batch path runs. --deterministic takes cuDNN's
# heuristic choice instead of cudnnFind, which would run every algorithm under instrumentation.
# memcheck watches every kernel, cuDNN's and cuBLAS's too (a buffer we pass too small shows up
# inside them); racecheck only ours (namespace train_gpu): library kernels are slow to instrument
# and their shared-memory hazards are not ours to fix. They run after the tests and side by side
# with each other only, so their cap is theirs alone.

sanitizer=${DEVICE_CHECK_SANITIZER:-$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)}
[[ $sanitizer == none ]] && sanitizer=""

stage_sanitizer() {
  local tool=$1 limit=$3 tool_args scope errors race refused hazards race_errors race_warnings result
  begin_stage "$2-$tool"
  if [[ $device == cpu ]]; then record "$tool" "N/A" "no GPU"; return; fi
  if [[ -z $sanitizer ]]; then record "$tool" "N/A" "compute-sanitizer not found"; return; fi
  if [[ -z $mnist_dir ]]; then record "$tool" "N/A" "no MNIST data"; return; fi
  ((limit > 0)) || { out_of_time "$tool"; return; }
  tool_args=(--tool "$tool" --error-exitcode 99)
  scope="all kernels"
  # API errors are not memory errors, and every status our code sees is checked (and fatal).
  [[ $tool == memcheck ]] && tool_args+=(--report-api-errors no)
  [[ $tool == racecheck ]] && { tool_args+=(--kernel-name kns=train_gpu); scope="train_gpu kernels"; }
  say "compute-sanitizer ${tool_args[*]}"
  bounded "$limit" "$log_dir/$tool.log" "$sanitizer" "${tool_args[@]}" "$bundle_abs/bin/train_gpu" \
    --device "$device" --deterministic --epochs 1 --limit-train 200 --limit-test 150 --no-progress \
    --data-dir "$mnist_dir" --run-dir "$log_dir/sanitize-$tool"
  # Each tool's own summary: memcheck "ERROR SUMMARY: N errors"; racecheck
  # "RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)".
  errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+ error' "$log_dir/$tool.log" | tail -n 1 | grep -Eo '[0-9]+')
  race=$(grep -Eo 'RACECHECK SUMMARY: [0-9]+ hazards? displayed \([0-9]+ errors?, [0-9]+ warnings?\)' \
           "$log_dir/$tool.log" | tail -n 1)
  refused=$(grep -Ei 'not supported|unsupported|Internal Sanitizer Error|sanitizer failed|failed to (initialize|attach|launch)|Error: Target application' \
              "$log_dir/$tool.log" | head -n 1)
  if timed_out; then
    record "$tool" "N/A" "timed out after $limit s (instrumented run too slow here; no verdict)"
  elif [[ -n $race ]]; then
    read -r hazards race_errors race_warnings < <(
      sed -E 's/.*: ([0-9]+) hazards? displayed \(([0-9]+) errors?, ([0-9]+) warnings?\)/\1 \2 \3/' <<< "$race")
    # Errors fail; warnings (possible hazards) are reported. Exit 99 with no error counted would
    # be an error this parser missed: fail rather than pass it.
    result=PASS
    ((race_errors > 0 || status != 0)) && result=FAIL
    record "$tool" "$result" "$hazards hazards ($race_errors errors, $race_warnings warnings) in $scope; exit $status"
  elif [[ -n $errors ]]; then
    result=PASS
    ((errors > 0 || status != 0)) && result=FAIL
    record "$tool" "$result" "$errors errors in $scope; exit $status"
  elif [[ -n $refused ]]; then
    record "$tool" "N/A" "the sanitizer could not run here: ${refused#========= }"
  else
    record "$tool" "FAIL" "no summary line (exit $status): $(tail -n 1 "$log_dir/$tool.log")"
  fi
}

stage_sanitizers() {
  local limit
  limit=$(time_left "$sanitizer_cap")
  stage_sanitizer memcheck 50 "$limit" > "$log_dir/console-memcheck.txt" 2>&1 &
  stage_sanitizer racecheck 51 "$limit" > "$log_dir/console-racecheck.txt" 2>&1 &
  wait
  cat "$log_dir"/console-{memcheck,racecheck}.txt
}

# ---------------------------------------------------------------------------------------------
# Speed, with everything the budget has left (tools/device-bench.sh; its rows join the table,
# its tables are printed before the summary).

stage_speed() {
  begin_stage 60-speed
  local limit speed_args=(--budget) speed_dir=$log_dir/speed
  limit=$(time_left "$budget_seconds")
  ((limit > 0)) || { out_of_time speed; return; }
  speed_args+=("$limit" --out "$speed_dir" --device "$device" "$bundle_abs")
  say "speed: tools/device-bench.sh ${speed_args[*]}"
  # Its own budget ends it in time; the timeout only guards against a hang of the script itself.
  bounded $((limit + 5)) "$log_dir/speed.log" tools/device-bench.sh "${speed_args[@]}"
  cat "$speed_dir"/rows/*.tsv >> "$rows_file" 2>/dev/null
  if timed_out; then
    record "speed" "N/A" "cut at $limit s (see $log_dir/speed.log)"
  elif [[ ! -s $speed_dir/rows/speed.tsv ]]; then
    record "speed" "FAIL" "device-bench.sh exit $status, no rows: $(tail -n 1 "$log_dir/speed.log")"
  fi
}

# ---------------------------------------------------------------------------------------------
# The run: the phases in order, the table after each, the speed tables, then the summary last.

stage_tests; phase_done
stage_training; phase_done
stage_determinism; phase_done
stage_sanitizers; phase_done
stage_speed; phase_done
[[ -f $log_dir/speed/tables.txt ]] && { echo; cat "$log_dir/speed/tables.txt"; }
print_summary
