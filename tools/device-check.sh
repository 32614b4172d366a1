#!/usr/bin/env bash
# The GPU machine's whole check in one run of well under 8 minutes. Every stage is bounded in
# time and reported. The timed stages (training, bench) run alone; then the tests, the
# determinism runs and both sanitizers run side by side. The summary table comes LAST:
#   bundle, libraries, GPU   the carried build unpacked, cuDNN/cuBLAS found, nvidia-smi's GPU
#   versions                 CUDA/cuDNN/cuBLAS built against and loaded, the driver
#   tests                    every test binary (GPU suites by name): passed/failed/skipped by suite
#   training                 10 epochs of MNIST on GPU 0: per-epoch accuracies and ms/epoch
#   cuDNN algorithms         the pair the training run chose (from its config.json)
#   determinism              two --deterministic processes and a resume: identical bits
#   bench                    train_gpu bench: ms/epoch per batch size
#   memcheck, racecheck      compute-sanitizer on a short training (racecheck: our kernels only)
#
# Prepare here (no GPU needed), then carry build/device-bundle.tar.xz:
#   cmake --preset release && cmake --build --preset release
#   tools/bundle-for-device.sh build/release build/device-bundle
# On the GPU machine, from the repository root:
#   tools/device-check.sh [--allow-no-gpu] [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to build/device-bundle; when only BUNDLE_DIR.tar.xz was carried, it is
# unpacked first. Logs go to $OUT/device-check when $OUT is set (the device runner returns it),
# else build/device-check. --allow-no-gpu runs what works without a GPU (GPU test cases skip;
# training, determinism and bench run briefly on the CPU) to check this script itself.
#
# Each summary row is PASS, FAIL, N/A (could not run here: no GPU, no data, the sanitizer refused
# the device or was too slow) or INFO. Exit status: 0 all ran and passed; 1 something FAILED;
# 2 nothing failed but something could not run here; 3 no GPU (without --allow-no-gpu).
#
# Environment, for rehearsals (tests/device_check_rehearsal_test.cpp) and unusual machines:
#   DEVICE_CHECK_BUDGET_SECONDS   whole-run budget (default 450); later stages get what is left
#   DEVICE_CHECK_NVIDIA_SMI       nvidia-smi to use ("none": act as if absent)
#   DEVICE_CHECK_SANITIZER        compute-sanitizer to use ("none": act as if absent)
#   DEVICE_LIBRARY_ROOTS          colon-separated folders to search for libcudnn/libcublas
#                                 (default: the pip nvidia/ packages, the CUDA toolkit, system dirs, /;
#                                 tools/device-env.sh, shared with tools/device-bench.sh)
#   DEVICE_CHECK_TEST_SECONDS, DEVICE_CHECK_TRAIN_SECONDS, DEVICE_CHECK_SANITIZER_SECONDS
#                                 caps per test binary / training run / sanitizer run
#   DEVICE_CHECK_MIN_ACCURACY     the 10-epoch test accuracy required on the GPU (default 0.985)
#   DEVICE_CHECK_PYTHON           the Python 3 that reads the reports (default: python3 on PATH)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

allow_no_gpu=0
bundle_dir=build/device-bundle
for arg in "$@"; do
  case $arg in
    --allow-no-gpu) allow_no_gpu=1 ;;
    -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
    -*) echo "device-check: unknown option $arg (see --help)" >&2; exit 1 ;;
    *) bundle_dir=$arg ;;
  esac
done

start_seconds=$SECONDS
budget_seconds=${DEVICE_CHECK_BUDGET_SECONDS:-450}  # 7.5 minutes, under the 8 allowed
test_cap=${DEVICE_CHECK_TEST_SECONDS:-240}
train_cap=${DEVICE_CHECK_TRAIN_SECONDS:-150}
sanitizer_cap=${DEVICE_CHECK_SANITIZER_SECONDS:-200}
min_accuracy=${DEVICE_CHECK_MIN_ACCURACY:-0.985}
log_dir=${OUT:+$OUT/device-check}
log_dir=${log_dir:-build/device-check}
rm -rf "$log_dir"
mkdir -p "$log_dir/rows"
python=${DEVICE_CHECK_PYTHON:-$(command -v python3 || true)}
report=(false)
[[ -n $python ]] && report=("$python" tools/device_check_report.py)

# ---------------------------------------------------------------------------------------------
# Rows of the summary: each stage writes rows/NN-stage.tsv (NN orders the table), so a stage that
# runs in the background reports exactly like one in the foreground.

rows_file=/dev/null
begin_stage() { rows_file="$log_dir/rows/$1.tsv"; : > "$rows_file"; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "${3//[$'\t\n']/ }" >> "$rows_file"; }
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

print_summary() {
  local name result detail failed=0 unavailable=0 verdict exit_status
  echo
  echo "== device-check summary ($(date -u +%Y-%m-%d), $((SECONDS - start_seconds)) s; logs in $log_dir) =="
  printf '%-22s %-5s %s\n' "stage" "result" "detail"
  while IFS=$'\t' read -r name result detail; do
    printf '%-22s %-5s %s\n' "$name" "$result" "$detail"
    case $result in FAIL) ((failed += 1)) ;; N/A) ((unavailable += 1)) ;; esac
  done < <(cat "$log_dir"/rows/*.tsv 2>/dev/null)
  if ((failed > 0)); then verdict="FAILED: $failed stage(s) failed"; exit_status=1
  elif ((unavailable > 0)); then verdict="INCOMPLETE: nothing failed; $unavailable stage(s) could not run here"; exit_status=2
  else verdict="PASSED"; exit_status=0; fi
  echo "device-check: $verdict"
  return "$exit_status"
}

# Seconds a stage may take: what the budget has left, keeping 15 s for the summary, but at
# least 5 s (a stage that cannot finish still reports) and at most the stage's cap $1.
time_left() {
  local left=$((budget_seconds - (SECONDS - start_seconds) - 15))
  ((left < 5)) && left=5
  ((left > $1)) && left=$1
  echo "$left"
}

# bounded SECONDS LOG COMMAND...: runs COMMAND under `timeout`, stdout and stderr to LOG; sets
# $status (124 or 137 when it ran out of time: see timed_out).
bounded() {
  local seconds=$1 log=$2
  shift 2
  timeout --kill-after=10 "$seconds" "$@" > "$log" 2>&1
  status=$?
}
timed_out() { ((status == 124 || status == 137)); }

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

# ---------------------------------------------------------------------------------------------
# Tests: every binary directly (ctest's files hold this build's absolute paths), several at a
# time, each bounded, with a JSON report; then one table of passed/failed/skipped by suite.

stage_tests() {
  begin_stage 20-tests
  say "tests"
  mkdir -p "$log_dir/tests"
  local binary source name parallel test_binaries=() gpu_test_names=() ordered=()
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
  parallel=$(($(nproc) / 2))
  ((parallel < 1)) && parallel=1
  ((parallel > 8)) && parallel=8
  for binary in "${ordered[@]}"; do
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n; done
    (
      name=$(basename "$binary")
      limit=$(time_left "$test_cap")
      OPENBLAS_NUM_THREADS=2 timeout --kill-after=10 "$limit" "$binary" \
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
  local train_args=(--device 0 --epochs 10) required=$min_accuracy limit
  if [[ $device == cpu ]]; then
    train_args=(--device cpu --epochs 1 --limit-train 2048 --limit-test 1000)
    required=0  # one short CPU epoch proves the plumbing, not the accuracy
  fi
  if [[ -z $mnist_dir ]]; then
    record "training" "N/A" "no MNIST data in the bundle, shared/ or ../shared/"
    return
  fi
  say "training: train_gpu ${train_args[*]}"
  limit=$(time_left "$train_cap")
  bounded "$limit" "$log_dir/train.log" "$bundle_abs/bin/train_gpu" "${train_args[@]}" --data-dir "$mnist_dir" \
    --run-dir "$log_dir/run" --no-progress
  grep -E '^(device|cudnn|epoch [0-9])' "$log_dir/train.log"
  if timed_out; then
    record "training" "FAIL" "timed out after $limit s (see $log_dir/train.log)"
  else
    record_report training "$log_dir/run" "$status" "$required" "${train_args[*]}"
  fi
}

# ---------------------------------------------------------------------------------------------
# Determinism across processes: two fresh --deterministic runs of 2 epochs, and a third that runs
# 1 epoch and resumes for the 2nd; the tensors of the three epoch-2 checkpoints must be identical.

stage_determinism() {
  begin_stage 40-determinism
  if [[ -z $mnist_dir ]]; then record "determinism" "N/A" "no MNIST data"; return; fi
  say "determinism: three --deterministic processes"
  local common=(--device "$device" --deterministic --data-dir "$mnist_dir" --limit-train 6400 --limit-test 1000
                --no-progress) problem=""
  [[ $device == cpu ]] && common=(--device cpu --deterministic --data-dir "$mnist_dir" --limit-train 640
                                  --limit-test 200 --no-progress)
  run_once() {  # NAME ARGS...: one bounded run; stops at the first problem (the rest is moot)
    local name=$1 limit
    shift
    [[ -z $problem ]] || return 0
    limit=$(time_left "$train_cap")
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
# Throughput per batch size (train_gpu bench), with the floor at the H200's ~67 TFLOP/s fp32.

stage_bench() {
  begin_stage 50-bench
  if [[ -z $mnist_dir ]]; then record "bench" "N/A" "no MNIST data"; return; fi
  local args=(bench --device "$device" --data-dir "$mnist_dir" --csv "$log_dir/bench.csv") limit
  if [[ $device == cpu ]]; then args+=(--limit-train 2048 --batch-sizes 64 --epochs 1); else args+=(--peak-tflops 67); fi
  say "bench: train_gpu ${args[*]}"
  limit=$(time_left 90)
  bounded "$limit" "$log_dir/bench.log" "$bundle_abs/bin/train_gpu" "${args[@]}"
  sed -n '/ batch /,$p' "$log_dir/bench.log"
  if timed_out; then
    record "bench" "FAIL" "timed out after $limit s (see $log_dir/bench.log)"
  elif ((status != 0)) || [[ ! -f $log_dir/bench.csv ]]; then
    record "bench" "FAIL" "exit $status: $(tail -n 1 "$log_dir/bench.log")"
  else
    record_report bench "$log_dir/bench.csv"  # csv module: the device field holds commas
  fi
}

# ---------------------------------------------------------------------------------------------
# compute-sanitizer on a short --deterministic training: 200 training images (3 full batches and
# a partial one), 150 test images (one full test batch and a partial one), then the final
# evaluation, so every kernel and every partial-batch path runs. --deterministic takes cuDNN's
# heuristic choice instead of cudnnFind, which would run every algorithm under instrumentation.
# memcheck watches every kernel, cuDNN's and cuBLAS's too (a buffer we pass too small shows up
# inside them); racecheck only ours (namespace train_gpu): library kernels are slow to instrument
# and their shared-memory hazards are not ours to fix.

sanitizer=${DEVICE_CHECK_SANITIZER:-$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)}
[[ $sanitizer == none ]] && sanitizer=""

stage_sanitizer() {
  local tool=$1 tool_args scope limit errors race refused hazards race_errors race_warnings result
  begin_stage "$2-$tool"
  if [[ $device == cpu ]]; then record "$tool" "N/A" "no GPU"; return; fi
  if [[ -z $sanitizer ]]; then record "$tool" "N/A" "compute-sanitizer not found"; return; fi
  if [[ -z $mnist_dir ]]; then record "$tool" "N/A" "no MNIST data"; return; fi
  tool_args=(--tool "$tool" --error-exitcode 99)
  scope="all kernels"
  # API errors are not memory errors, and every status our code sees is checked (and fatal).
  [[ $tool == memcheck ]] && tool_args+=(--report-api-errors no)
  [[ $tool == racecheck ]] && { tool_args+=(--kernel-name kns=train_gpu); scope="train_gpu kernels"; }
  say "compute-sanitizer ${tool_args[*]}"
  limit=$(time_left "$sanitizer_cap")
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

# ---------------------------------------------------------------------------------------------
# The run: timed stages alone, the rest side by side (each prints to its own console file, shown
# in order once all are done), then the summary.

stage_training
stage_bench
say "tests, determinism, memcheck and racecheck side by side"
stage_tests > "$log_dir/console-tests.txt" 2>&1 &
stage_determinism > "$log_dir/console-determinism.txt" 2>&1 &
stage_sanitizer memcheck 60 > "$log_dir/console-memcheck.txt" 2>&1 &
stage_sanitizer racecheck 70 > "$log_dir/console-racecheck.txt" 2>&1 &
wait
cat "$log_dir"/console-{tests,determinism,memcheck,racecheck}.txt
print_summary
