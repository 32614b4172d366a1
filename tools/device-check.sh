#!/usr/bin/env bash
# The GPU machine's whole check, in one run of under 8 minutes: the test suite (GPU tests
# included), compute-sanitizer memcheck and racecheck on a short training, and a 10-epoch MNIST
# training; prints a summary table LAST.
#
# Prepare here (no GPU needed), then carry build/device-bundle.tar.xz:
#   cmake --preset release && cmake --build --preset release
#   tools/bundle-for-device.sh build/release build/device-bundle
# On the GPU machine, from the repository root:
#   tools/device-check.sh [--allow-no-gpu] [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to build/device-bundle; when only BUNDLE_DIR.tar.xz was carried, it is
# unpacked first. Logs, test JSON and the training run go to
# $OUT/device-check when $OUT is set (the device runner returns it), else build/device-check.
# --allow-no-gpu runs what works without a GPU (the tests skip their GPU cases; the training runs
# briefly on the CPU) to check this script itself; without it, no GPU is reported and exit 3.
# Exit status: 0 all good, 1 a failure (tests, sanitizer errors, training), 3 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

allow_no_gpu=0
bundle_dir=build/device-bundle
for arg in "$@"; do
  case $arg in
    --allow-no-gpu) allow_no_gpu=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) bundle_dir=$arg ;;
  esac
done

start_seconds=$SECONDS
budget_seconds=${DEVICE_CHECK_BUDGET_SECONDS:-450}  # 7.5 minutes, under the 8 allowed
log_dir=${OUT:+$OUT/device-check}
log_dir=${log_dir:-build/device-check}
mkdir -p "$log_dir"
python=$(command -v python3 || true)

declare -a summary_names=() summary_values=()
note() { summary_names+=("$1"); summary_values+=("$2"); }
say() { echo "== device-check: $*"; }
failed=0

print_summary() {
  echo
  echo "== device-check summary ($((SECONDS - start_seconds)) s; logs in $log_dir) =="
  local i
  for i in "${!summary_names[@]}"; do printf '%-24s %s\n' "${summary_names[$i]}" "${summary_values[$i]}"; done
}

# Seconds left for a stage, leaving 15 s for the summary; at least 10.
time_left() {
  local left=$((budget_seconds - (SECONDS - start_seconds) - 15))
  ((left < 10)) && left=10
  echo "$left"
}

# ---------------------------------------------------------------------------------------------
# The bundle and its libraries.

if [[ ! -x $bundle_dir/bin/train_gpu && -f $bundle_dir.tar.xz ]]; then
  say "unpacking $bundle_dir.tar.xz"
  mkdir -p "$(dirname "$bundle_dir")"
  tar -C "$(dirname "$bundle_dir")" -xJf "$bundle_dir.tar.xz" || say "unpacking $bundle_dir.tar.xz failed"
fi
if [[ ! -x $bundle_dir/bin/train_gpu ]]; then
  say "no bundle at $bundle_dir (expected bin/train_gpu, or $bundle_dir.tar.xz); build and run tools/bundle-for-device.sh first"
  note "bundle" "MISSING: $bundle_dir"
  print_summary
  exit 1
fi
bundle_abs=$(cd "$bundle_dir" && pwd)
# shellcheck disable=SC1091
[[ -f $bundle_abs/manifest.env ]] && source "$bundle_abs/manifest.env"

# cuDNN and cuBLAS come from the machine: the pip wheels (nvidia-cudnn-cu13, nvidia-cublas) or a
# toolkit. Find the directories holding the exact sonames the binaries need.
library_dirs=("$bundle_abs/lib")
find_library_dir() {
  local soname=$1 found="" roots=()
  if [[ -n $python ]]; then
    while IFS= read -r root; do [[ -d $root ]] && roots+=("$root"); done < <(
      "$python" -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null)
  fi
  roots+=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu /usr/local/lib /opt)
  local root
  for root in "${roots[@]}"; do
    [[ -d $root ]] || continue
    found=$(find "$root" -name "$soname" -print -quit 2>/dev/null)
    [[ -n $found ]] && { dirname "$found"; return 0; }
  done
  found=$(find / -xdev -name "$soname" -print -quit 2>/dev/null)
  [[ -n $found ]] && dirname "$found"
}
for soname in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
  dir=$(find_library_dir "$soname")
  if [[ -n $dir ]]; then library_dirs+=("$dir"); else say "warning: $soname not found on this machine"; fi
done
LD_LIBRARY_PATH=$(IFS=:; echo "${library_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
missing=$(ldd "$bundle_abs/bin/train_gpu" 2>&1 | grep 'not found' | awk '{print $1}' | tr '\n' ' ')
if [[ -n $missing ]]; then
  say "train_gpu cannot load: $missing"
  note "libraries" "MISSING: $missing"
  failed=1
fi

# Paths baked into the test binaries at build time: link them to the carried copies where the
# filesystem lets us (best effort; tests that need them fail or skip otherwise).
link_baked_path() {
  local baked actual=$2
  baked=$(realpath -m "$1" 2>/dev/null || echo "$1")  # /work/main/../shared -> /work/shared
  [[ -n $1 && ! -e $baked && -e $actual ]] || return 0
  mkdir -p "$(dirname "$baked")" 2>/dev/null && ln -s "$actual" "$baked" 2>/dev/null &&
    say "linked $baked -> $actual"
}
mnist_dir=""
for candidate in "$bundle_abs/data/mnist" shared/data/mnist ../shared/data/mnist; do
  if compgen -G "$candidate/*ubyte*" > /dev/null; then mnist_dir=$(cd "$candidate" && pwd); break; fi
done
link_baked_path "${BUNDLE_BUILD_DIR:-}" "$bundle_abs/bin"
link_baked_path "${BUNDLE_SOURCE_DIR:-}" "$PWD"
link_baked_path "${BUNDLE_MNIST_DIR:-}" "$mnist_dir"
[[ -n $mnist_dir ]] && export TRAIN_GPU_MNIST_DIR=$mnist_dir

# ---------------------------------------------------------------------------------------------
# Is there a GPU?

gpu_name=""
if command -v nvidia-smi > /dev/null; then
  gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
fi
if [[ -z $gpu_name ]]; then
  say "no GPU: nvidia-smi found no device on this machine"
  note "GPU" "none (nvidia-smi found no device)"
  if ((allow_no_gpu == 0)); then
    print_summary
    exit 3
  fi
  device=cpu
else
  note "GPU" "$gpu_name"
  device=0
fi

# ---------------------------------------------------------------------------------------------
# Tests: each binary directly (ctest's files hold this build's absolute paths), JSON results.

say "tests"
mkdir -p "$log_dir/tests"
test_binaries=("$bundle_abs"/bin/tests/*_test)
for binary in "${test_binaries[@]}"; do
  [[ -x $binary ]] || continue
  name=$(basename "$binary")
  timeout "$(( $(time_left) < 240 ? $(time_left) : 240 ))" "$binary" --gtest_brief=1 \
    --gtest_output="json:$log_dir/tests/$name.json" > "$log_dir/tests/$name.log" 2>&1
  status=$?
  ((status != 0)) && say "$name exited with $status (log: $log_dir/tests/$name.log)"
done
if [[ -n $python ]]; then
  test_line=$("$python" - "$log_dir/tests" "${test_binaries[@]}" <<'PY'
import json, os, sys
directory, binaries = sys.argv[1], sys.argv[2:]
passed = failed = skipped = 0
broken, failures = [], []
for binary in binaries:
    name = os.path.basename(binary)
    path = os.path.join(directory, name + ".json")
    try:
        report = json.load(open(path))
    except (OSError, ValueError):
        broken.append(name)  # crashed or timed out before writing its report
        continue
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            if case.get("failures"):
                failed += 1
                failures.append(f"{suite['name']}.{case['name']}")
            elif case.get("result") == "SKIPPED":
                skipped += 1
            elif case.get("status", "RUN") == "RUN":
                passed += 1
line = f"{passed} passed, {failed} failed, {skipped} skipped ({len(binaries)} binaries)"
if broken:
    line += f"; NO REPORT from {', '.join(broken)}"
if failures:
    line += f"; failed: {', '.join(failures[:6])}" + (" ..." if len(failures) > 6 else "")
print(line)
sys.exit(1 if failed or broken else 0)
PY
) || failed=1
else
  test_line="(no python3 to read the JSON reports; see $log_dir/tests)"
fi
note "tests" "$test_line"

# ---------------------------------------------------------------------------------------------
# Training: 10 epochs of MNIST on the GPU (one short epoch on the CPU in --allow-no-gpu mode).
# Before the sanitizers, so the headline figures survive a slow sanitizer run.

short_run=(--device "$device" --epochs 1 --limit-train 2048 --limit-test 1000)
[[ -n $mnist_dir ]] && short_run+=(--data-dir "$mnist_dir")

if [[ -z $mnist_dir ]]; then
  note "training" "skipped (no MNIST data in the bundle, shared/ or ../shared/)"
else
  if [[ $device == cpu ]]; then train_args=("${short_run[@]}"); else train_args=(--device 0 --epochs 10 --data-dir "$mnist_dir"); fi
  say "training: train_gpu ${train_args[*]}"
  rm -rf "$log_dir/run"
  timeout "$(time_left)" "$bundle_abs/bin/train_gpu" "${train_args[@]}" --run-dir "$log_dir/run" > "$log_dir/train.log" 2>&1
  status=$?
  metrics=$(find "$log_dir/run" -name metrics.csv -print -quit 2>/dev/null)
  if [[ -n $metrics && -n $python ]]; then
    training_line=$("$python" - "$metrics" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
if not rows:
    print("metrics.csv is empty"); sys.exit(1)
last = rows[-1]
ms = [1000 * float(r["epoch_seconds"]) for r in rows]
steady = ms[1:] or ms
print(f"{len(rows)} epochs, test accuracy {float(last['test_accuracy']):.4f}, test loss {float(last['test_loss']):.4f}, "
      f"{sum(steady) / len(steady):.0f} ms/epoch (epochs 2+; first {ms[0]:.0f} ms), "
      f"{float(last['samples_per_second']):.0f} samples/s")
PY
) || failed=1
  else
    training_line="NO metrics.csv (see $log_dir/train.log)"
    failed=1
  fi
  ((status != 0)) && { training_line="$training_line; exit $status"; failed=1; }
  note "training" "$training_line"
fi

# ---------------------------------------------------------------------------------------------
# Throughput per batch size (train_gpu bench), with the floor at the H200's ~67 TFLOP/s fp32.

if [[ -n $mnist_dir ]]; then
  bench_args=(bench --device "$device" --data-dir "$mnist_dir" --csv "$log_dir/bench.csv")
  if [[ $device == cpu ]]; then bench_args+=(--limit-train 2048 --batch-sizes 64 --epochs 1); else bench_args+=(--peak-tflops 67); fi
  say "bench: train_gpu ${bench_args[*]}"
  limit=$(( $(time_left) < 90 ? $(time_left) : 90 ))
  timeout "$limit" "$bundle_abs/bin/train_gpu" "${bench_args[@]}" > "$log_dir/bench.log" 2>&1
  status=$?
  if ((status == 0)) && [[ -f $log_dir/bench.csv ]]; then
    note "bench" "$(awk -F, 'NR > 1 { printf "b%s %.1f ms/epoch; ", $2, $4 }' "$log_dir/bench.csv")(table: $log_dir/bench.log)"
    sed -n '/ batch /,$p' "$log_dir/bench.log"
  else
    note "bench" "FAILED (exit $status; see $log_dir/bench.log)"; failed=1
  fi
fi

# ---------------------------------------------------------------------------------------------
# compute-sanitizer on a short training.

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [[ $device == cpu ]]; then
  note "sanitizers" "skipped (no GPU)"
elif [[ -z $sanitizer ]]; then
  note "sanitizers" "skipped (compute-sanitizer not found)"
elif [[ -z $mnist_dir ]]; then
  note "sanitizers" "skipped (no MNIST data)"
else
  for tool in memcheck racecheck; do
    say "compute-sanitizer --tool $tool"
    limit=$(( $(time_left) < 150 ? $(time_left) : 150 ))
    timeout "$limit" "$sanitizer" --tool "$tool" --error-exitcode 99 \
      "$bundle_abs/bin/train_gpu" "${short_run[@]}" --run-dir "$log_dir/sanitize-$tool" > "$log_dir/$tool.log" 2>&1
    status=$?
    errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+' "$log_dir/$tool.log" | tail -n 1 | grep -Eo '[0-9]+$')
    if ((status == 124)); then
      note "$tool" "TIMED OUT after ${limit} s"; failed=1
    elif [[ -z $errors ]]; then
      note "$tool" "NO SUMMARY (exit $status; see $log_dir/$tool.log)"; failed=1
    else
      note "$tool" "$errors errors (exit $status)"
      ((errors > 0 || status != 0)) && failed=1
    fi
  done
fi

print_summary
exit "$failed"
