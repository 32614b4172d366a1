#!/usr/bin/env python3
"""Reads what tools/device-check.sh collected and prints its summary rows.

One row per line, "name<TAB>result<TAB>detail", result PASS, FAIL, N/A (could not run here) or
INFO. Standard library only: a GPU node may have a bare Python 3 where nothing can be installed.

  device_check_report.py tests DIR DEVICE "GPU_BINARY ..." BINARY...
      gtest JSON reports and console logs in DIR (one NAME.json, NAME.log, NAME.status per
      binary); writes DIR/suites.txt, the passed/failed/skipped table by suite.
  device_check_report.py training RUN_DIR EXIT_STATUS MIN_ACCURACY "TRAIN_ARGS"
      metrics.csv and config.json of a training run: per-epoch rows, the cuDNN algorithms.
  device_check_report.py determinism ROOT
      ROOT/{a,b,c}/checkpoints/epoch-002.safetensors: are the tensor bytes identical?
  device_check_report.py bench CSV [NAME]
      train_gpu bench --csv output (the device field holds commas: read with the csv module);
      one row named NAME (default "bench").
  device_check_report.py peers CSV
      tools/bench/peers.py --csv output: how many engines were timed, and their ms/epoch.
"""
import csv
import hashlib
import json
import os
import struct
import sys


def row(name, result, detail):
    print(f"{name}\t{result}\t{' '.join(str(detail).split())}")


# ---------------------------------------------------------------------------------------------
# tests

def skip_messages(log):
    """Test name -> the message of its GTEST_SKIP, from the console log (gtest's JSON lacks it)."""
    messages, current, lines = {}, None, []
    try:
        text = open(log, errors="replace").read().splitlines()
    except OSError:
        return messages
    for line in text:
        if line.startswith("[ RUN      ] "):
            current, lines = line[13:].strip(), []
        elif line.startswith("[  SKIPPED ] ") and current:
            message = " ".join(part.strip() for part in lines if part.strip())
            # "file.h:23: Skipped" locates the skip; the reason follows it.
            messages[current] = message.split(": Skipped", 1)[-1].strip() or "skipped"
            current = None
        elif current is not None and not line.startswith("["):
            lines.append(line)
    return messages


def tests(directory, device, gpu_names, binaries):
    gpu_names = set(gpu_names.split())
    suites = {}  # suite -> [passed, failed, skipped, binary]
    failures, skips, broken, skipped_without_device = [], {}, [], set()
    for binary in binaries:
        name = os.path.basename(binary)
        try:
            status, limit = (open(os.path.join(directory, name + ".status")).read().split() + ["?", "?"])[:2]
        except OSError:
            status, limit = "?", "?"
        try:
            report = json.load(open(os.path.join(directory, name + ".json")))
        except (OSError, ValueError):
            why = f"timed out after {limit} s" if status in ("124", "137") else f"exit {status}, no report"
            broken.append((name, why))
            continue
        if status not in ("0", "1"):  # 1: failed tests; anything else crashed after its report
            broken.append((name, f"exit {status}"))
        messages = skip_messages(os.path.join(directory, name + ".log"))
        for suite in report.get("testsuites", []):
            counts = suites.setdefault(suite["name"], [0, 0, 0, name])
            for case in suite.get("testsuite", []):
                full = f"{suite['name']}.{case['name']}"
                if case.get("failures"):
                    counts[1] += 1
                    failures.append(full)
                elif case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN":
                    counts[2] += 1
                    message = messages.get(full, "skipped")
                    skips.setdefault(message, []).append(full)
                    if name in gpu_names and "no CUDA device" in message:
                        skipped_without_device.add(suite["name"])
                else:
                    counts[0] += 1

    with open(os.path.join(directory, "suites.txt"), "w") as table:
        table.write(f"{'suite':40} {'binary':28} {'passed':>6} {'failed':>6} {'skipped':>7}\n")
        for suite, (passed, failed, skipped, binary) in sorted(suites.items(), key=lambda s: (s[1][3], s[0])):
            table.write(f"{suite:40} {binary:28} {passed:6} {failed:6} {skipped:7}\n")
        for message, cases in sorted(skips.items()):
            more = " ..." if len(cases) > 4 else ""
            table.write(f"skipped ({len(cases)}): {message}: {', '.join(cases[:4])}{more}\n")

    def counts(passed, failed, skipped):
        return f"{passed} passed, {failed} failed, {skipped} skipped"

    # GPU suites one by one, the host suites as one row, then failures and broken binaries named.
    host = [0, 0, 0]
    for suite, (passed, failed, skipped, binary) in sorted(suites.items()):
        if binary not in gpu_names:
            host = [host[0] + passed, host[1] + failed, host[2] + skipped]
            continue
        if failed:
            result = "FAIL"
        elif suite in skipped_without_device:
            result = "N/A" if device == "cpu" else "FAIL"  # a GPU is there but the tests saw none
        elif skipped and not passed:
            result = "N/A"
        else:
            result = "PASS"
        reasons = sorted({m for m, cases in skips.items() if any(c.startswith(suite + ".") for c in cases)})
        row(f"tests {suite}", result, counts(passed, failed, skipped) +
            (f" (skipped: {'; '.join(reasons)[:120]})" if reasons else ""))
    host_binaries = [os.path.basename(b) for b in binaries if os.path.basename(b) not in gpu_names]
    host_broken = [name for name, _ in broken if name in host_binaries]
    row(f"tests host ({len(host_binaries)} bin)", "FAIL" if host[1] or host_broken else "PASS",
        counts(*host) + (f", {len(host_broken)} binaries without a report" if host_broken else "") +
        ("; skipped = could not run here, see suites.txt" if host[2] else ""))
    if failures:
        more = f" ... ({len(failures)} in all)" if len(failures) > 8 else ""
        row("tests failed", "FAIL", ", ".join(failures[:8]) + more)
    if broken:
        row("tests broken", "FAIL", ", ".join(f"{name} ({why})" for name, why in broken))


# ---------------------------------------------------------------------------------------------
# training

def training(run, status, required, args):
    status, required = int(status), float(required)
    expected = int(args.split("--epochs ")[1].split()[0]) if "--epochs " in args else None
    try:
        rows = list(csv.DictReader(open(os.path.join(run, "metrics.csv"), newline="")))
    except OSError as error:
        row("training", "FAIL", f"train_gpu {args}: exit {status}, no metrics.csv ({error.strerror})")
        rows = None
    if rows == []:
        row("training", "FAIL", f"train_gpu {args}: exit {status}, metrics.csv has no rows")
    elif rows:
        last = rows[-1]
        ms = [1000 * float(r["epoch_seconds"]) for r in rows]
        steady = ms[1:] or ms
        accuracy = float(last["test_accuracy"])
        ok = status == 0 and len(rows) == expected and accuracy >= required
        needs = f" (needs exit 0, {expected} epochs" + (f", test acc >= {100 * required:.1f}%)" if required else ")")
        row("training", "PASS" if ok else "FAIL",
            f"train_gpu {args}: exit {status}, {len(rows)} epochs, test acc {100 * accuracy:.2f}%, "
            f"{sum(steady) / len(steady):.0f} ms/epoch (epochs 2+; first {ms[0]:.0f} ms)" + ("" if ok else needs))
        for r in rows:
            row(f"  epoch {r['epoch']}", "INFO",
                f"train acc {100 * float(r['train_accuracy']):.2f}%, test acc {100 * float(r['test_accuracy']):.2f}%, "
                f"test loss {float(r['test_loss']):.4f}, {1000 * float(r['epoch_seconds']):.0f} ms, "
                f"{float(r['samples_per_second']):,.0f} samples/s")
    try:
        algorithms = json.load(open(os.path.join(run, "config.json"))).get("cudnn_algorithms")
    except (OSError, ValueError) as error:
        row("cuDNN algorithms", "FAIL", f"config.json unreadable: {error}")
        return
    if algorithms is None:
        row("cuDNN algorithms", "N/A", "none (CPU backend)")
    else:
        row("cuDNN algorithms", "INFO",
            f"forward {algorithms['forward']} ({algorithms['forward_id']}), backward-filter "
            f"{algorithms['backward_filter']} ({algorithms['backward_filter_id']}); {algorithms['how']}")


# ---------------------------------------------------------------------------------------------
# determinism

def checkpoint_tensors(root, run):
    """sha256 of the tensor bytes of run's epoch-2 checkpoint, and its metadata. safetensors: an
    8-byte little-endian header length, the JSON header, then the tensor data."""
    data = open(os.path.join(root, run, "checkpoints", "epoch-002.safetensors"), "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + length]).get("__metadata__", {})
    return hashlib.sha256(data[8 + length:]).hexdigest(), metadata


def determinism(root):
    try:
        (a, metadata), (b, _), (c, _) = (checkpoint_tensors(root, run) for run in "abc")
    except (OSError, ValueError, struct.error) as error:
        row("determinism", "FAIL", f"cannot read an epoch-2 checkpoint: {error}")
        return
    same = a == b == c
    detail = ("2 fresh runs and a resumed one: identical epoch-2 tensors" if same else
              f"epoch-2 tensors differ: fresh {a[:12]} vs {b[:12]}, resumed {c[:12]} (sha256)")
    forward = metadata.get("x.cudnn.forward_algorithm")
    if forward is not None:
        detail += f"; cuDNN forward {forward}, backward-filter {metadata.get('x.cudnn.backward_filter_algorithm')}"
    row("determinism", "PASS" if same else "FAIL", detail)


# ---------------------------------------------------------------------------------------------
# bench

def bench(path, name="bench"):
    rows = list(csv.DictReader(open(path, newline="")))
    if not rows:
        row(name, "FAIL", f"{path} has no rows")
        return
    def floor(r):  # 0 when bench was not given --peak-tflops
        return f"floor {float(r['floor_ms']):.2f} ms" if float(r["floor_ms"]) > 0 else "no floor"
    def launch(r):  # how the steps ran: "eager, 21 kernels/step" (0: not counted, e.g. the CPU)
        kernels = int(r.get("kernels_per_step") or 0)
        return (r.get("launch") or "?") + (f", {kernels} kernels/step" if kernels > 0 else "")
    row(name, "INFO", "; ".join(
        f"b{r['batch']} {float(r['ms_per_epoch']):.1f} ms/epoch "
        f"({float(r['samples_per_second']):,.0f}/s, {floor(r)}, {launch(r)})"
        for r in rows) + f" on {rows[0]['device']}")


# ---------------------------------------------------------------------------------------------
# peers

def peers(path):
    rows = list(csv.DictReader(open(path, newline="")))
    timed = [r for r in rows if r["ms_per_epoch"]]
    row("peers", "INFO", f"{len(timed)} of {len(rows)} engines timed" + "".join(
        f"; {r['engine']} {float(r['ms_per_epoch']):.1f} ms/epoch" for r in timed))


if __name__ == "__main__":
    commands = {"tests": lambda a: tests(a[0], a[1], a[2], a[3:]), "training": lambda a: training(*a),
                "determinism": lambda a: determinism(*a), "bench": lambda a: bench(*a),
                "peers": lambda a: peers(*a)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])
