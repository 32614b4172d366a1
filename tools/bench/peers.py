#!/usr/bin/env python3
"""train_gpu beside its peers: the tutorial's CNN on MNIST, batch 64, Adam, data on the device.

Trains the same model (Conv2D 32x3x3 + ReLU -> MaxPool 2x2 -> Dense 128 + ReLU -> Dense 10;
Glorot-uniform weights, zero biases; sparse softmax cross-entropy; Adam lr 1e-3, betas 0.9/0.999,
eps 1e-7) with the whole dataset resident on the device, in:

  torch-eager    PyTorch, one kernel launch at a time
  torch-graph    PyTorch with the whole step (forward, backward, capturable Adam) captured in a
                 CUDA graph per batch shape, replayed on static input buffers
  torch-compile  torch.compile(mode="reduce-overhead") of the step (Inductor + CUDA graphs)
  jax            jax.jit of the step (optax.adam, eps 1e-7; a hand-written optax-equivalent
                 Adam when optax is not installed)
  train_gpu      the engine itself (--train-gpu BIN, one run per --train-gpu-config), read from
                 the run's metrics.csv; and/or rows of `train_gpu bench --csv` (--train-gpu-csv)

and prints one table: ms per training epoch (the median over the steady epochs, i.e. all but the
first, which holds compilation, capture and warm-up), samples/s, and the test accuracy after the
last epoch. Each peer shuffles every epoch with its own generator: same model, data, batch and
optimizer, not the same random stream, so accuracies agree to run-to-run spread, not bitwise.

Smoke test on a machine without a GPU (skips what is not installed, with the reason):
  tools/bench/peers.py --device cpu --epochs 1 --limit 2048 --data-dir ../shared/data/mnist
On a GPU node (the speed phase of tools/device-check.sh, tools/device-bench.sh, runs this):
  tools/bench/peers.py --device cuda --epochs 5 --data-dir DIR --train-gpu build/release/train_gpu
"""
import argparse
import csv
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# torch-compile last: its compilation is the slowest, and a caller's timeout then costs only it.
FRAMEWORKS = ("torch-eager", "torch-graph", "jax", "torch-compile")
DEFAULT_TRAIN_GPU_CONFIGS = ("eager=", "graph=--graph", "graph-fused=--graph --kernels fused")


# ---------------------------------------------------------------------------------------------
# Data

def read_idx(path):
    import numpy as np

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find_file(directory, stem):
    for name in (stem + "-ubyte.gz", stem + "-ubyte", stem.replace("-idx", ".idx") + "-ubyte"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"peers.py: no {stem}-ubyte[.gz] in {directory}")


def load_mnist(directory, limit_train, limit_test):
    import numpy as np

    def images(stem, limit):
        x = read_idx(find_file(directory, stem))
        x = x[:limit] if limit else x
        return (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)

    def labels(stem, limit):
        y = read_idx(find_file(directory, stem))
        return (y[:limit] if limit else y).astype(np.int32)

    return (images("train-images-idx3", limit_train), labels("train-labels-idx1", limit_train),
            images("t10k-images-idx3", limit_test), labels("t10k-labels-idx1", limit_test))


def glorot_uniform(rng, shape, fan_in, fan_out):
    import numpy as np

    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def initial_weights(seed):
    """Keras defaults: Glorot-uniform kernels, zero biases. PyTorch layouts (OIHW, (out, in))."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "conv.weight": glorot_uniform(rng, (32, 1, 3, 3), 1 * 9, 32 * 9),
        "conv.bias": np.zeros(32, np.float32),
        "fc1.weight": glorot_uniform(rng, (128, 5408), 5408, 128),
        "fc1.bias": np.zeros(128, np.float32),
        "fc2.weight": glorot_uniform(rng, (10, 128), 128, 10),
        "fc2.bias": np.zeros(10, np.float32),
    }


def batches(count, batch):
    """(start, size) of each batch of a pass: full batches, then the short last one."""
    return [(start, min(batch, count - start)) for start in range(0, count, batch)]


def steady_ms(epoch_seconds):
    """Median ms over the epochs after the first; the only epoch when there is one."""
    steady = epoch_seconds[1:] or epoch_seconds
    return 1e3 * statistics.median(steady)


class Skip(Exception):
    """A peer that cannot run here; the message says why."""


# ---------------------------------------------------------------------------------------------
# PyTorch

def torch_setup(args):
    try:
        import torch
    except ImportError as error:
        raise Skip(f"PyTorch not importable ({error})")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise Skip("PyTorch sees no CUDA device")
    return torch


def torch_model(torch, weights, device):
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc1, self.fc2 = nn.Conv2d(1, 32, 3), nn.Linear(5408, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = torch.flatten(torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2), 1)
            return self.fc2(torch.relu(self.fc1(x)))

    model = Net()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(torch.from_numpy(weights[name]))
    return model.to(device)


def torch_accuracy(torch, model, x, y):
    with torch.no_grad():
        correct = 0
        for start in range(0, x.shape[0], 1000):
            correct += (model(x[start:start + 1000]).argmax(1) == y[start:start + 1000]).sum().item()
    return correct / x.shape[0]


def run_torch(kind, args, data, epoch_accuracies=None):
    """Trains with PyTorch; returns (seconds of each epoch's training pass, final test accuracy).
    With a list as epoch_accuracies, also appends the test accuracy after every epoch (measured
    outside the timed pass)."""
    torch = torch_setup(args)
    if kind == "torch-graph" and args.device != "cuda":
        raise Skip("CUDA graphs need a CUDA device")
    if kind == "torch-compile" and not hasattr(torch, "compile"):
        raise Skip("this PyTorch has no torch.compile")
    import torch.nn.functional as F

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = (torch.from_numpy(a).to(device) for a in data)
    y_train, y_test = y_train.long(), y_test.long()
    model = torch_model(torch, initial_weights(args.seed), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7,
                                 capturable=(kind == "torch-graph"))
    count = x_train.shape[0]
    generator = torch.Generator(device=device).manual_seed(args.seed)

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    if kind == "torch-compile":
        # reduce-overhead means CUDA graphs; a CPU caller (cpu_peers.py) sets "default".
        step = torch.compile(step, mode=getattr(args, "torch_compile_mode", "reduce-overhead"), dynamic=False)

    graphs = {}
    if kind == "torch-graph":
        graphs = capture_torch_graphs(torch, F, model, optimizer, x_train, y_train, count, args.batch)

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    epoch_seconds = []
    for _ in range(args.epochs):
        sync()
        start = time.perf_counter()
        order = torch.randperm(count, device=device, generator=generator)
        x_epoch, y_epoch = x_train[order], y_train[order]
        for first, size in batches(count, args.batch):
            x, y = x_epoch[first:first + size], y_epoch[first:first + size]
            if graphs:
                graph, static_x, static_y = graphs[size]
                static_x.copy_(x)
                static_y.copy_(y)
                graph.replay()
            else:
                step(x, y)
        sync()
        epoch_seconds.append(time.perf_counter() - start)
        if epoch_accuracies is not None:
            epoch_accuracies.append(torch_accuracy(torch, model, x_test, y_test))
    if epoch_accuracies:
        return epoch_seconds, epoch_accuracies[-1]
    return epoch_seconds, torch_accuracy(torch, model, x_test, y_test)


def capture_torch_graphs(torch, F, model, optimizer, x_train, y_train, count, batch):
    """One graph per batch shape: forward, backward and the capturable Adam step on static
    buffers. Warm-up iterations (cuDNN/cuBLAS setup, Adam's lazy state) run on a side stream
    first; the weights and Adam state are then restored in place, so the timed run starts from
    the initial model like the other peers."""
    saved = [p.detach().clone() for p in model.parameters()]
    sizes = sorted({size for _, size in batches(count, batch)}, reverse=True)
    statics = {}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for size in sizes:
            static_x, static_y = x_train[:size].clone(), y_train[:size].clone()
            statics[size] = (static_x, static_y)
            for _ in range(3):
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(static_x), static_y).backward()
                optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for parameter, initial in zip(model.parameters(), saved):
            parameter.copy_(initial)
        for state in optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()
    graphs = {}
    for size in sizes:
        static_x, static_y = statics[size]
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            F.cross_entropy(model(static_x), static_y).backward()
            optimizer.step()
        graphs[size] = (graph, static_x, static_y)
    return graphs


# ---------------------------------------------------------------------------------------------
# JAX

def adam_without_optax(jax, jnp, learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """optax.adam's formula: m, v with bias correction, eps added to sqrt(v_hat)."""

    def init(params):
        def zeros():  # m and v each get their own buffers: the step donates both
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        return (jnp.zeros([], jnp.int32), zeros(), zeros())

    def update(grads, state, params=None):
        del params
        count, m, v = state
        count = count + 1
        m = jax.tree_util.tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
        c1 = 1 - b1 ** count.astype(jnp.float32)
        c2 = 1 - b2 ** count.astype(jnp.float32)
        updates = jax.tree_util.tree_map(lambda m_, v_: -learning_rate * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), m, v)
        return updates, (count, m, v)

    return init, update


def run_jax(args, data, epoch_accuracies=None):
    """Trains with JAX; returns (seconds of each epoch's training pass, final test accuracy, the
    optimizer's name). epoch_accuracies: as run_torch's."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as error:
        raise Skip(f"JAX not importable ({error})")
    platform = "gpu" if args.device == "cuda" else "cpu"
    try:
        device = jax.devices(platform)[0]
    except RuntimeError as error:
        raise Skip(f"JAX has no {platform} device ({error})")
    try:
        import optax

        optimizer = optax.adam(1e-3, b1=0.9, b2=0.999, eps=1e-7)
        opt_init, opt_update, optimizer_name = optimizer.init, optimizer.update, "optax.adam"
    except ImportError:
        opt_init, opt_update = adam_without_optax(jax, jnp)
        optimizer_name = "optax-equivalent Adam (optax not installed)"
    from functools import partial

    def put(array):
        return jax.device_put(array, device)

    x_train, y_train, x_test, y_test = (put(a) for a in data)
    params = {name: put(value) for name, value in initial_weights(args.seed).items()}

    # cpu_peers.py sets jax_channels_last: XLA:CPU runs the step ~4x faster with a channels-last
    # convolution and the 2x2 pooling as reshape + max (same values; its gradient avoids the slow
    # select-and-scatter of reduce_window's). The pooled maps go back to NCHW before flattening,
    # so fc1 keeps PyTorch's layout either way.
    channels_last = getattr(args, "jax_channels_last", False)

    def forward(p, x):
        if channels_last:
            y = jax.lax.conv_general_dilated(x.transpose(0, 2, 3, 1), p["conv.weight"].transpose(2, 3, 1, 0),
                                             (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            y = jax.nn.relu(y + p["conv.bias"])
            n, h, w, c = y.shape
            y = y.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4)).transpose(0, 3, 1, 2)
        else:
            y = jax.lax.conv_general_dilated(x, p["conv.weight"], (1, 1), "VALID",
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"))
            y = jax.nn.relu(y + p["conv.bias"][None, :, None, None])
            y = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        y = y.reshape(y.shape[0], -1)
        y = jax.nn.relu(y @ p["fc1.weight"].T + p["fc1.bias"])
        return y @ p["fc2.weight"].T + p["fc2.bias"]

    def loss_fn(p, x, y):
        logits = forward(p, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @partial(jax.jit, static_argnames=("size",), donate_argnums=(0, 1))
    def step(p, state, x_all, y_all, order, first, size):
        idx = jax.lax.dynamic_slice(order, (first,), (size,))
        grads = jax.grad(loss_fn)(p, x_all[idx], y_all[idx])
        updates, state = opt_update(grads, state, p)
        return jax.tree_util.tree_map(lambda a, b: a + b, p, updates), state

    forward_jit = jax.jit(forward)

    def accuracy(p):
        return float(jnp.mean(jnp.argmax(forward_jit(p, x_test), axis=1) == y_test))

    state = opt_init(params)
    count = x_train.shape[0]
    key = jax.random.PRNGKey(args.seed)
    epoch_seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        key, subkey = jax.random.split(key)
        order = jax.random.permutation(subkey, count)
        for first, size in batches(count, args.batch):
            params, state = step(params, state, x_train, y_train, order, first, size)
        jax.block_until_ready(params)
        epoch_seconds.append(time.perf_counter() - start)
        if epoch_accuracies is not None:
            epoch_accuracies.append(accuracy(params))
    return epoch_seconds, epoch_accuracies[-1] if epoch_accuracies else accuracy(params), optimizer_name


# ---------------------------------------------------------------------------------------------
# train_gpu

def run_train_gpu(binary, extra, args):
    run_dir = tempfile.mkdtemp(prefix="peers-train_gpu-")
    try:
        command = [binary, "--device", "0" if args.device == "cuda" else "cpu", "--epochs", str(args.epochs),
                   "--batch-size", str(args.batch), "--seed", str(args.seed), "--data-dir", args.data_dir,
                   "--run-dir", run_dir, "--no-progress"] + extra.split()
        if args.limit:
            command += ["--limit-train", str(args.limit), "--limit-test", str(args.limit_test)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise Skip(f"train_gpu {' '.join(extra.split())} exited {result.returncode}: {last}")
        epoch_seconds, accuracies = read_train_gpu_metrics(run_dir, args.limit or 60000)
        return epoch_seconds, accuracies[-1]
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def read_train_gpu_metrics(run_dir, train_count):
    """(seconds of each epoch's training pass, test accuracy after each epoch) from a run's
    metrics.csv. Its epoch_seconds includes the test pass; samples_per_second is the training part
    alone, as the peers time it."""
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise Skip(f"no epochs in {os.path.join(run_dir, 'metrics.csv')}")
    return ([train_count / float(row["samples_per_second"]) for row in rows],
            [float(row["test_accuracy"]) for row in rows])


def train_gpu_bench_rows(path, batch):
    """Rows of `train_gpu bench --csv` at this batch size: timing only (bench does not test)."""
    rows = []
    with open(path) as f:
        for row in csv.DictReader(f):
            if int(row["batch"]) != batch:
                continue
            launch = row.get("launch", "eager").split(" ")[0]
            kernels = row.get("kernel_set", "")
            pooling = row.get("pooling", "")
            per_step = row.get("kernels_per_step", "0")
            detail = f"bench, {kernels} kernels, {pooling} pooling, {per_step} kernels/step" if kernels else "bench"
            rows.append({"engine": f"train_gpu {launch}", "ms": float(row["ms_per_epoch"]),
                         "samples_per_second": float(row["samples_per_second"]), "accuracy": None, "note": detail})
    return rows


# ---------------------------------------------------------------------------------------------
# The table

def format_table(rows, epochs):
    header = ["engine", "ms/epoch", "samples/s", "test acc", "note"]
    lines = []
    for row in rows:
        if row.get("ms") is None:
            lines.append([row["engine"], "-", "-", "-", row["note"]])
            continue
        accuracy = "-" if row["accuracy"] is None else f"{100 * row['accuracy']:.2f}%"
        lines.append([row["engine"], f"{row['ms']:.1f}", f"{row['samples_per_second']:,.0f}", accuracy, row["note"]])
    widths = [max(len(str(line[i])) for line in [header] + lines) for i in range(len(header))]
    steady = f"median of epochs 2-{epochs}" if epochs > 1 else "1 epoch, includes warm-up"
    out = [f"ms/epoch: training only, {steady}"]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for line in lines:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
    return "\n".join(out)


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["engine", "ms_per_epoch", "samples_per_second", "test_accuracy", "note"])
        for row in rows:
            writer.writerow([row["engine"], "" if row.get("ms") is None else f"{row['ms']:.3f}",
                             "" if row.get("ms") is None else f"{row['samples_per_second']:.1f}",
                             "" if row.get("accuracy") is None else f"{row['accuracy']:.4f}", row["note"]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--data-dir", default="data/mnist", help="the four MNIST IDX files (.gz or raw)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per engine (timing: median of 2..N)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all 60,000)")
    parser.add_argument("--limit-test", type=int, default=1000, help="with --limit: test on the first N")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help=f"comma-separated subset of {','.join(FRAMEWORKS)} (empty: none)")
    parser.add_argument("--train-gpu", metavar="BIN", help="also train with this train_gpu binary")
    parser.add_argument("--train-gpu-config", action="append", metavar="NAME=FLAGS",
                        help="one train_gpu run per config (default: " + "; ".join(DEFAULT_TRAIN_GPU_CONFIGS) + ")")
    parser.add_argument("--train-gpu-csv", action="append", default=[], metavar="CSV",
                        help="rows of `train_gpu bench --csv` to show (timing only)")
    parser.add_argument("--csv", help="also write the table as CSV")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch < 1 or args.limit < 0:
        parser.error("--epochs and --batch must be positive, --limit non-negative")
    frameworks = [f for f in args.frameworks.split(",") if f]
    for framework in frameworks:
        if framework not in FRAMEWORKS:
            parser.error(f"--frameworks: unknown '{framework}' (choose from {', '.join(FRAMEWORKS)})")
    if not args.limit:
        args.limit_test = 0
    try:
        data = load_mnist(args.data_dir, args.limit, args.limit_test)
    except ImportError as error:
        raise SystemExit(f"peers.py: numpy is needed to read MNIST ({error})")
    count = data[0].shape[0]

    rows = []

    def timed_row(engine, epoch_seconds, accuracy, note):
        ms = steady_ms(epoch_seconds)
        return {"engine": engine, "ms": ms, "samples_per_second": count / (ms / 1e3), "accuracy": accuracy,
                "note": note}

    if args.train_gpu:
        for config in args.train_gpu_config or DEFAULT_TRAIN_GPU_CONFIGS:
            name, _, flags = config.partition("=")
            engine = f"train_gpu {name}"
            print(f"== {engine}: {flags or '(defaults)'}", flush=True)
            try:
                seconds, accuracy = run_train_gpu(args.train_gpu, flags, args)
                rows.append(timed_row(engine, seconds, accuracy, flags or "defaults"))
            except Skip as reason:
                rows.append({"engine": engine, "note": f"failed: {reason}"})
            if args.csv:
                write_csv(args.csv, rows)
    for path in args.train_gpu_csv:
        rows.extend(train_gpu_bench_rows(path, args.batch))
    for framework in frameworks:
        print(f"== {framework}", flush=True)
        try:
            if framework == "jax":
                seconds, accuracy, optimizer_name = run_jax(args, data)
                rows.append(timed_row(framework, seconds, accuracy, f"jax.jit per step, {optimizer_name}"))
            else:
                seconds, accuracy = run_torch(framework, args, data)
                rows.append(timed_row(framework, seconds, accuracy, {
                    "torch-eager": "one launch per op",
                    "torch-graph": "whole step in a CUDA graph, capturable Adam",
                    "torch-compile": 'torch.compile(mode="reduce-overhead")',
                }[framework]))
        except Skip as reason:
            rows.append({"engine": framework, "note": f"skipped: {reason}"})
        if args.csv:
            write_csv(args.csv, rows)  # after each engine: a timeout keeps what finished
    print()
    print(f"{count:,} training images per epoch, batch {args.batch}, {args.epochs} epoch(s), device {args.device}")
    print(format_table(rows, args.epochs))
    if args.csv:
        write_csv(args.csv, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
