"""Starts tools/bench/cpu_peers.py (the arguments after this script's own first one, the signal
name), waits for its "contention:" line, sends it the signal, and reports whether the busy
processes it named outlived it, for tests/cpu_peers_script_test.cpp:

  pids=123,456 exit=<status> alive_after=<how many of them still exist> seen=<1 if the line came>
"""
import os
import signal
import subprocess
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purpose (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    signum = getattr(signal, sys.argv[1])
    process = subprocess.Popen([sys.executable] + sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    pids, output = [], []
    for line in process.stdout:
        output.append(line)
        if line.startswith("contention: ") and "pids " in line:
            pids = [int(p) for p in line.split("pids ", 1)[1].split(")", 1)[0].split()]
            # Some work under way: the first run has started (or the script is about to start it).
            time.sleep(1.0)
            process.send_signal(signum)
            break
    output.extend(process.stdout)
    status = process.wait()
    sys.stdout.write("".join(output))
    # Checked at once: a busy process that only noticed its parent's end by itself (its loop's
    # fallback) could still be running now; only the script's own cleanup, which kills and reaps
    # them before it exits, leaves none.
    remaining = sum(alive(pid) for pid in pids)
    print(f"pids={','.join(map(str, pids))} exit={status} alive_after={remaining} seen={1 if pids else 0}")


if __name__ == "__main__":
    main()
