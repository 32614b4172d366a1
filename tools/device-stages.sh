# What every stage of the device scripts (tools/device-check.sh and the speed phase it runs,
# tools/device-bench.sh) uses to stay inside its time budget and report, written once. Sourced;
# defines functions and runs nothing. The caller sets budget_seconds, reserve_seconds and
# log_dir, then calls clock_start.
#
#   clock_start                  starts the budget clock
#   elapsed                      whole seconds since clock_start, in run seconds (see below)
#   time_left CAP                seconds the next stage may take: what the budget has left after
#                                reserve_seconds, at most CAP; 0 when nothing is left
#   bounded SECONDS LOG CMD...   CMD under `timeout`, stdout and stderr to LOG; sets $status
#                                (timed_out: it ran out of time)
#   begin_stage NAME             the rows that follow go to $log_dir/rows/NAME.tsv (NAME orders
#                                the table), written as they come: a run cut off leaves them
#   record NAME RESULT DETAIL    one row; RESULT PASS, FAIL, N/A (could not run here) or INFO
#   write_summary FILE           the table of every row so far, its verdict last; returns 0
#                                passed, 1 something failed, 2 something could not run
#
# DEVICE_CHECK_TIME_SCALE (default 1) is the real seconds per run second: every budget, cap and
# timeout is in run seconds and shrinks with it. The rehearsal (tests/device_check_rehearsal_test.cpp)
# plays the whole check with fakes that sleep their expected durations times the scale, so a
# 540 s check takes 540 * scale real seconds and its budget arithmetic is the real one.
# shellcheck shell=bash disable=SC2034,SC2154  # variables set here are the caller's, and its own it reads

time_scale=${DEVICE_CHECK_TIME_SCALE:-1}
export DEVICE_CHECK_TIME_SCALE=$time_scale  # the fakes of a rehearsal read it too

clock_start() { clock_start_ns=$(date +%s%N); }

elapsed() {
  awk -v now="$(date +%s%N)" -v start="$clock_start_ns" -v scale="$time_scale" \
    'BEGIN { printf "%d\n", (now - start) / 1e9 / scale }'
}

# Run seconds as real seconds, for `timeout` and `sleep`.
real_seconds() { awk -v seconds="$1" -v scale="$time_scale" 'BEGIN { printf "%.3f\n", seconds * scale }'; }

time_left() {
  local left=$((budget_seconds - $(elapsed) - reserve_seconds))
  ((left < 0)) && left=0
  ((left > $1)) && left=$1
  echo "$left"
}

bounded() {
  local seconds=$1 log=$2
  shift 2
  # A short grace after SIGTERM: a stage's overrun comes out of the later stages' time.
  timeout --kill-after="$(real_seconds 3)" "$(real_seconds "$seconds")" "$@" > "$log" 2>&1
  status=$?
}
timed_out() { ((status == 124 || status == 137)); }

rows_file=/dev/null
begin_stage() { mkdir -p "$log_dir/rows"; rows_file="$log_dir/rows/$1.tsv"; : > "$rows_file"; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "${3//[$'\t\n']/ }" >> "$rows_file"; }

write_summary() {
  local file=$1 name result detail failed=0 unavailable=0 verdict exit_status
  {
    echo "== ${summary_title:-device-check} summary ($(date -u +%Y-%m-%d), $(elapsed) s of $budget_seconds; results in $log_dir) =="
    printf '%-22s %-5s %s\n' "stage" "result" "detail"
    while IFS=$'\t' read -r name result detail; do
      printf '%-22s %-5s %s\n' "$name" "$result" "$detail"
      case $result in FAIL) ((failed += 1)) ;; N/A) ((unavailable += 1)) ;; esac
    done < <(cat "$log_dir"/rows/*.tsv 2>/dev/null)
    if ((failed > 0)); then verdict="FAILED: $failed stage(s) failed"; exit_status=1
    elif ((unavailable > 0)); then verdict="INCOMPLETE: nothing failed; $unavailable stage(s) could not run here"; exit_status=2
    else verdict="PASSED"; exit_status=0; fi
    echo "${summary_title:-device-check}: $verdict"
  } > "$file"
  return "$exit_status"
}
