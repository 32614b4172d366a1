#!/usr/bin/env python3
"""train_gpu on the CPU beside TensorFlow, PyTorch and JAX, same job, same thread count (issue 13).

Not part of CI: it installs multi-gigabyte wheels and runs for many minutes. Run it by hand.

The job, identical in every system: the tutorial's CNN (Conv2D 32x3x3 + ReLU -> MaxPool 2x2 ->
Flatten -> Dense 128 + ReLU -> Dense 10), MNIST from the IDX files divided by 255, batch 64, a
full reshuffle every epoch, sparse softmax cross-entropy, Adam (lr 1e-3, betas 0.9/0.999, eps
1e-7), Glorot-uniform weights (the same values in every system, from peers.initial_weights) and
zero biases, on the CPU with --threads threads (default 2):

  tensorflow     the tutorial's custom loop: tf.data shuffle + batch, a tf.function train step
                 (GradientTape, Keras Adam), without the tutorial's running-metric updates;
                 intra_op threads = --threads, inter_op threads = --tf-inter-op (default 1)
  torch-eager    PyTorch eager (peers.run_torch), torch.set_num_threads(--threads)
  torch-compile  torch.compile(mode="default") of the same step; only with --torch-compile
                 (Inductor compiles C++ during the first epoch, which takes minutes)
  jax            jax.jit of the step with optax.adam(eps=1e-7) (peers.run_jax), by default
                 channels-last with the pooling as reshape + max (--jax-layout nhwc: the same
                 values, ~3x faster on XLA:CPU than peers.py's NCHW + reduce_window); threads
                 limited by the CPU affinity below (XLA's pools size themselves to the CPUs a
                 process may use) and XLA_FLAGS=--xla_cpu_multi_thread_eigen=true|false (false
                 with one thread)
  train_gpu      the engine (--train-gpu BIN): `BIN train --device cpu --threads N ...`. Epoch
                 times and test accuracies come from the run's metrics.csv.
  train_gpu-1thread  the same with --threads 1, pinned to the same CPUs: under load, the default
                 thread count must never be slower than one thread (issue 22). Included by
                 default with --contention.

A model given as Keras JSON (--model FILE.json, e.g. tools/bench/models/simple_mnist_convnet.json,
Keras's "Simple MNIST convnet"; issue 20) replaces the tutorial's CNN on both sides that can read it:

  tensorflow     keras.models.model_from_json(FILE), Keras's own initial weights (seeded by --seed),
                 SparseCategoricalCrossentropy with from_logits=False when the last layer ends in
                 softmax (True when it is linear; any other is refused), Adam at Keras's defaults,
                 in the same custom loop and with the same epoch timing as above (Dropout is
                 active in the train step)
  train_gpu      `BIN train --model FILE ...` with the same batch size
  torch-*, jax   skipped, with a line and a table row saying so: they have no Keras JSON reader

The table and the CSV name the model (the file's name, or "tutorial") and the batch size on every row.

Every run is its own process, so imports and thread settings never leak between systems. Each
one is pinned to the first --threads CPUs it may use (sched_setaffinity; --no-pin to skip) and
gets OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = --threads.

Load: quiet by default. --contention starts one busy process per CPU the runs are pinned to
(each pinned to its CPU, in a session of its own, a pure-Python loop) before the first round and
stops them after the last, whatever happens (an error, Ctrl-C, SIGTERM or SIGHUP; a busy process
also ends by itself once this script is gone, even after a SIGKILL): every system then runs
beside the same load, as in a container with a CPU quota on a shared node or a CI runner.

Protocol: --rounds rounds (default 3); each round runs every system once, the order rotating by
one system per round so slow drifts of the machine's load fall on all of them. A run trains
--epochs epochs (default 3); its steady epochs are 2..E (the first holds tracing, compilation and
warm-up), each timed as the training pass alone (no test pass). The table gives, per system, the
min and the median s/epoch over all steady epochs of all rounds, the test accuracy after epoch 1
and after epoch E (median over rounds), and the versions; then train_gpu's ratio to the faster of
TensorFlow and PyTorch. The table's heading names the CPU model and the load (quiet, or the busy
processes), and the date and machine (nproc, platform) are printed with it; --csv repeats the
CPU model, the load and the date on every row.

The frameworks come from PyPI into a virtual environment that the script creates and fills itself
(--venv, default build/cpu-peers-venv; --no-install to use one as it is): tensorflow-cpu (or
tensorflow where no -cpu wheel exists for the Python), torch, jax[cpu], optax, numpy.

  # a smoke check, about a minute per system once the venv exists:
  tools/bench/cpu_peers.py --data-dir ../shared/data/mnist --train-gpu build/release/train_gpu \\
      --rounds 1 --epochs 2 --limit-train 4096 --limit-test 1000
  # the measurement:
  tools/bench/cpu_peers.py --data-dir ../shared/data/mnist --train-gpu build/release/train_gpu \\
      --torch-compile --csv cpu-peers.csv
  # Keras's Simple MNIST convnet, from its JSON, beside TensorFlow/Keras training the same JSON:
  tools/bench/cpu_peers.py --data-dir ../shared/data/mnist --train-gpu build/release/train_gpu \\
      --model tools/bench/models/simple_mnist_convnet.json --batch-size 128 --csv cpu-peers-convnet.csv
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import peers  # noqa: E402  (data, initial weights, the PyTorch and JAX runs, metrics.csv)

SYSTEMS = ("tensorflow", "torch-eager", "torch-compile", "jax", "train_gpu", "train_gpu-1thread")
TRAIN_GPU_SYSTEMS = ("train_gpu", "train_gpu-1thread")
PYTHON_SYSTEMS = ("tensorflow", "torch-eager", "torch-compile", "jax")
KERAS_JSON_SYSTEMS = ("tensorflow",) + TRAIN_GPU_SYSTEMS  # the systems that can read --model
NO_KERAS_JSON = "skipped: no Keras JSON reader (--model)"
MODULES = {"tensorflow": ["tensorflow"], "torch-eager": ["torch"], "torch-compile": ["torch"],
           "jax": ["jax", "jaxlib", "optax"]}


def say(text):
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# The child: one system, one run, in its own process (the venv's Python)

def child_main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    args = argparse.Namespace(device="cpu", seed=config["seed"], epochs=config["epochs"], batch=config["batch"],
                              threads=config["threads"], tf_inter_op=config["tf_inter_op"],
                              torch_compile_mode="default", jax_channels_last=config["jax_channels_last"])
    system = config["system"]
    data = peers.load_mnist(config["data_dir"], config["limit_train"], config["limit_test"])
    accuracies = []
    if system == "tensorflow" and config["model"]:
        seconds, version, threads_note = run_keras_json(args, data, accuracies, config["model"])
    elif system == "tensorflow":
        seconds, version, threads_note = run_tensorflow(args, data, accuracies)
    elif system == "jax":
        import jax
        import jaxlib
        seconds, _, optimizer_name = peers.run_jax(args, data, accuracies)
        version = f"jax {jax.__version__}, jaxlib {jaxlib.__version__}"
        try:
            import optax
            version += f", optax {optax.__version__}"
        except ImportError:
            pass
        layout = ("NHWC conv, pooling as reshape + max" if args.jax_channels_last
                  else "NCHW conv, reduce_window pooling")
        threads_note = f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}; {layout}; {optimizer_name}"
    else:
        import torch
        torch.set_num_threads(args.threads)
        seconds, _ = peers.run_torch(system, args, data, accuracies)
        version = f"torch {torch.__version__}"
        threads_note = f"torch.get_num_threads() = {torch.get_num_threads()}"
        if system == "torch-compile":
            threads_note += ', torch.compile(mode="default")'
    result = {"epoch_seconds": seconds, "accuracies": accuracies, "version": version, "threads_note": threads_note,
              "train_count": int(data[0].shape[0])}
    with open(config["result"], "w") as f:
        json.dump(result, f)
    return 0


def tensorflow_with_threads(args):
    """TensorFlow, its thread pools sized before any op runs (they cannot change afterwards)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.tf_inter_op)
    return tf


def run_tensorflow(args, data, accuracies):
    """The TensorFlow 2 quickstart's custom loop (subclassed model, GradientTape, tf.function
    train step, tf.data shuffle + batch) with this project's model, batch and initial weights."""
    import numpy as np

    tf = tensorflow_with_threads(args)
    tf.random.set_seed(args.seed)
    x_train, y_train, x_test, y_test = data
    # TensorFlow's CPU convolution wants NHWC; with one channel that is a reshape of NCHW.
    x_train, x_test = x_train.reshape(-1, 28, 28, 1), x_test.reshape(-1, 28, 28, 1)
    layers = tf.keras.layers

    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = layers.Conv2D(32, 3, activation="relu")
            self.pool = layers.MaxPooling2D(2)
            self.flatten = layers.Flatten()
            self.d1 = layers.Dense(128, activation="relu")
            self.d2 = layers.Dense(10)

        def call(self, x):
            return self.d2(self.d1(self.flatten(self.pool(self.conv1(x)))))

    model = MyModel()
    model(tf.zeros([1, 28, 28, 1]))
    w = peers.initial_weights(args.seed)  # PyTorch layouts: OIHW, (out, in), fc1 over NCHW flattened
    model.conv1.set_weights([w["conv.weight"].transpose(2, 3, 1, 0), w["conv.bias"]])
    # Keras flattens the pooled NHWC maps as (h, w, c); PyTorch's fc1 columns are (c, h, w).
    fc1 = w["fc1.weight"].reshape(128, 32, 13, 13).transpose(2, 3, 1, 0).reshape(5408, 128)
    model.d1.set_weights([np.ascontiguousarray(fc1), w["fc1.bias"]])
    model.d2.set_weights([np.ascontiguousarray(w["fc2.weight"].T), w["fc2.bias"]])

    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return train_keras_model(tf, args, model, loss_object, (x_train, y_train, x_test, y_test), accuracies)


def run_keras_json(args, data, accuracies, model_path):
    """A model as Keras writes it (model.to_json()), built by Keras itself, trained in the loop
    of run_tensorflow. Its weights are Keras's own initialization, seeded by --seed."""
    import numpy as np

    tf = tensorflow_with_threads(args)
    tf.keras.utils.set_random_seed(args.seed)
    with open(model_path) as f:
        model = tf.keras.models.model_from_json(f.read())
    shape = tuple(model.input_shape[1:])
    if None in shape or int(np.prod(shape)) != 28 * 28:
        raise SystemExit(f"cpu_peers.py: {model_path}: the model's input shape {shape} does not hold one 28x28 "
                         "MNIST image; expected (28, 28, 1) or (784,)")
    x_train, y_train, x_test, y_test = data
    data = (x_train.reshape((-1,) + shape), y_train, x_test.reshape((-1,) + shape), y_test)
    activation = last_activation(model)
    if activation not in ("softmax", "linear"):
        raise SystemExit(f"cpu_peers.py: {model_path}: the last layer's activation is {activation}; expected softmax "
                         "(probabilities) or linear (logits) for sparse categorical cross-entropy")
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=activation == "linear")
    seconds, version, note = train_keras_model(tf, args, model, loss_object, data, accuracies)
    note += (f"; {os.path.basename(model_path)} by keras.models.model_from_json, Keras's initial weights, "
             f"from_logits={loss_object.get_config()['from_logits']}")
    return seconds, version, note


def last_activation(model):
    """What the model's last layer applies last: "softmax", "linear", or another activation's name
    (a Dense's activation option, an Activation layer, or a Softmax layer)."""
    layer = model.layers[-1]
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = layer.get_config().get("activation", "linear")
    return activation if isinstance(activation, str) else str(activation)


def train_keras_model(tf, args, model, loss_object, data, accuracies):
    """The tutorial's custom loop (tf.data shuffle + batch, a tf.function train step with
    GradientTape and Keras's Adam): s/epoch of each training pass alone, then the test accuracy."""
    import numpy as np

    x_train, y_train, x_test, y_test = data
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def predict(images):
        return tf.argmax(model(images, training=False), axis=1, output_type=tf.int32)

    count = x_train.shape[0]
    options = tf.data.Options()
    options.threading.private_threadpool_size = args.threads
    train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(count, seed=args.seed, reshuffle_each_iteration=True).batch(args.batch)
                .with_options(options))
    epoch_seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for images, labels in train_ds:
            loss = train_step(images, labels)
        loss.numpy()
        epoch_seconds.append(time.perf_counter() - start)
        correct = 0
        for first in range(0, x_test.shape[0], 1000):
            correct += int(np.sum(predict(x_test[first:first + 1000]).numpy() == y_test[first:first + 1000]))
        accuracies.append(correct / x_test.shape[0])
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
    version = f"tensorflow {tf.__version__}, keras {tf.keras.__version__ if hasattr(tf.keras, '__version__') else '?'}"
    note = (f"intra_op {tf.config.threading.get_intra_op_parallelism_threads()}, "
            f"inter_op {tf.config.threading.get_inter_op_parallelism_threads()}, TF_ENABLE_ONEDNN_OPTS {onednn}")
    return epoch_seconds, version, note


# ---------------------------------------------------------------------------------------------
# The parent: venv, machine, rounds, table

def cpu_model():
    """The first "model name" of /proc/cpuinfo, e.g. "AMD EPYC 9R14 96-Core Processor"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_description():
    model = cpu_model()
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(len(os.sched_getaffinity(0)))
    return f"{model}, nproc {nproc} ({os.cpu_count()} CPUs online), {platform.platform()}"


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def missing_modules(python, modules):
    code = ("import importlib.util, json, sys; "
            "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]))")
    result = subprocess.run([python, "-c", code] + modules, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"cpu_peers.py: {python} does not run: {result.stderr.strip()}")
    return json.loads(result.stdout)


def pip_install(python, packages, extra=()):
    command = [python, "-m", "pip", "install", "--upgrade"] + list(extra) + list(packages)
    say("$ " + " ".join(shlex.quote(c) for c in command))
    return subprocess.run(command).returncode == 0


def ensure_venv(args, systems):
    """The venv's Python, created and filled from PyPI as needed (unless --no-install)."""
    python = venv_python(args.venv)
    if not os.path.exists(python):
        if args.no_install:
            raise SystemExit(f"cpu_peers.py: no virtual environment at {args.venv} (and --no-install)")
        say(f"creating the virtual environment {args.venv} with {args.venv_python}")
        subprocess.run([args.venv_python, "-m", "venv", args.venv], check=True)
    modules = sorted({m for s in systems for m in MODULES.get(s, [])} | {"numpy"})
    missing = missing_modules(python, modules)
    if missing and not args.no_install:
        if "tensorflow" in missing and not pip_install(python, ["tensorflow-cpu"]):
            say("cpu_peers.py: no tensorflow-cpu wheel here; installing tensorflow")
            pip_install(python, ["tensorflow"])
        if "torch" in missing:
            pip_install(python, ["torch"], ["--index-url", args.torch_index_url] if args.torch_index_url else [])
        rest = [{"jax": "jax[cpu]", "jaxlib": "jax[cpu]"}.get(m, m) for m in missing if m not in ("tensorflow", "torch")]
        if rest:
            pip_install(python, sorted(set(rest)))
        missing = missing_modules(python, modules)
    if missing:
        raise SystemExit(f"cpu_peers.py: the venv {args.venv} lacks {', '.join(missing)}"
                         + (" (--no-install)" if args.no_install else " after pip install; see pip's output above"))
    return python


def pinned_cpus(threads, pin):
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[:threads] if pin and threads < len(allowed) else allowed


def child_environment(args, system):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if system == "jax":
        multi = "true" if args.threads > 1 else "false"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={multi}").strip()
        env["JAX_PLATFORMS"] = "cpu"
    if system in ("torch-eager", "torch-compile"):
        env["CUDA_VISIBLE_DEVICES"] = ""  # the PyPI wheel's CUDA runtime stays unloaded
    return env


class RunFailed(Exception):
    pass


def run_process(command, env, cpus, timeout, log_path):
    """Runs command in its own process group pinned to cpus; kills the group on timeout, and on
    Ctrl-C or a signal that ends this script (the run would otherwise go on without it)."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                   preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise RunFailed(f"timed out after {timeout} s (log {log_path})")
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise


# A busy process: pure Python, no imports beyond os and sys, so it starts in milliseconds and
# loads nothing that could change the others' speed but the CPU time it takes. It ends by itself
# when its parent (this script) is gone, whatever ended it.
BUSY_LOOP = ("import os, sys\n"
             "parent = int(sys.argv[1])\n"
             "while os.getppid() == parent:\n"
             "    for _ in range(200000):\n"
             "        pass\n")


def stop_on_termination(signum, frame):
    raise SystemExit(128 + signum)


class Contention:
    """One busy process per CPU in `cpus`, each pinned to its CPU, for the life of a with-block;
    they are killed and reaped when the block ends, however it ends (SIGTERM and SIGHUP become
    SystemExit while it lasts, Ctrl-C is KeyboardInterrupt: both unwind through __exit__)."""

    def __init__(self, cpus):
        self.cpus = list(cpus)
        self.processes = []
        self.previous_handlers = {}

    def __enter__(self):
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self.previous_handlers[signum] = signal.signal(signum, stop_on_termination)
        try:
            for cpu in self.cpus:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-c", BUSY_LOOP, str(os.getpid())], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                    preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, [cpu])))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def pids(self):
        return [process.pid for process in self.processes]

    def __exit__(self, kind, value, traceback):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)
        return False


def log_tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "\n".join("    " + line for line in f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_python_system(args, python, system, work):
    config = {"system": system, "data_dir": args.data_dir, "epochs": args.epochs, "batch": args.batch,
              "seed": args.seed, "threads": args.threads, "tf_inter_op": args.tf_inter_op,
              "limit_train": args.limit_train, "limit_test": args.limit_test,
              "jax_channels_last": args.jax_layout == "nhwc", "model": args.model,
              "result": os.path.join(work, "result.json")}
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    log_path = os.path.join(work, "log.txt")
    status = run_process([python, os.path.abspath(__file__), "--child", config_path],
                         child_environment(args, system), pinned_cpus(args.threads, args.pin), args.timeout, log_path)
    if status != 0 or not os.path.exists(config["result"]):
        raise RunFailed(f"exit status {status}; the end of its log ({log_path}):\n{log_tail(log_path)}")
    with open(config["result"]) as f:
        return json.load(f)


class TrainGpu:
    """The engine's command line and its version, read once."""

    def __init__(self, args):
        self.binary = args.train_gpu
        version = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=60)
        if version.returncode != 0:
            raise SystemExit(f"cpu_peers.py: {self.binary} --version exited {version.returncode}: "
                             f"{version.stderr.strip()[-300:]}")
        self.version = (version.stdout.strip().splitlines() or ["train_gpu"])[0]

    def command(self, args, run_dir, threads):
        command = [self.binary, "train", "--device", "cpu", "--threads", str(threads), "--epochs",
                   str(args.epochs), "--batch-size", str(args.batch), "--seed", str(args.seed), "--lr", "0.001",
                   "--beta1", "0.9", "--beta2", "0.999", "--epsilon", "1e-07", "--data-dir", args.data_dir,
                   "--run-dir", run_dir, "--save-every", str(args.epochs), "--no-progress", "--no-tensorboard"]
        if args.model:
            command += ["--model", args.model]
        if args.limit_train:
            command += ["--limit-train", str(args.limit_train)]
        if args.limit_test:
            command += ["--limit-test", str(args.limit_test)]
        return command + shlex.split(args.train_gpu_args)

    def run(self, args, work, threads):
        run_dir = os.path.join(work, "run")
        log_path = os.path.join(work, "log.txt")
        env = child_environment(args, "train_gpu")
        status = run_process(self.command(args, run_dir, threads), env, pinned_cpus(args.threads, args.pin),
                             args.timeout, log_path)
        if status != 0:
            raise RunFailed(f"exit status {status}; the end of its log ({log_path}):\n{log_tail(log_path)}")
        device = ""
        with open(log_path, errors="replace") as f:
            for line in f:
                if line.startswith("device:"):
                    device = line.split(":", 1)[1].strip()
                    break
        train_count = min(args.limit_train or 60000, 60000)
        try:
            seconds, accuracies = peers.read_train_gpu_metrics(run_dir, train_count)
        except KeyError as missing:
            raise RunFailed(f"metrics.csv has no {missing} column (--deterministic drops the timing columns)")
        except (OSError, peers.Skip) as error:
            raise RunFailed(str(error))
        note = f"device {device or '?'}; --threads {threads}"
        if args.train_gpu_args:
            note += f"; extra args: {args.train_gpu_args}"
        return {"epoch_seconds": seconds, "accuracies": accuracies, "version": self.version, "threads_note": note,
                "train_count": train_count}


def steady(seconds):
    return seconds[1:] or seconds


def percent(value):
    return "-" if value is None else f"{100 * value:.2f}%"


def summarize(system, runs, epochs):
    good = [r for r in runs if "error" not in r]
    row = {"system": system, "runs": len(good), "failed": len(runs) - len(good), "min": None, "median": None,
           "acc_first": None, "acc_last": None, "version": "", "threads_note": "", "steady_seconds": [],
           "errors": [r["error"] for r in runs if "error" in r], "skipped": ""}
    if not good:
        return row
    seconds = [s for r in good for s in steady(r["epoch_seconds"])]
    row.update(min=min(seconds), median=statistics.median(seconds), steady_seconds=seconds,
               version=good[0]["version"], threads_note=good[0]["threads_note"])
    firsts = [r["accuracies"][0] for r in good if r["accuracies"]]
    lasts = [r["accuracies"][-1] for r in good if r["accuracies"]]
    row["acc_first"] = statistics.median(firsts) if firsts else None
    row["acc_last"] = statistics.median(lasts) if lasts else None
    return row


def skipped_row(system, reason, epochs):
    row = summarize(system, [], epochs)
    row["skipped"] = reason
    return row


def model_name(args):
    """The model as the table and the CSV name it: --model's file name, or the built-in tutorial CNN."""
    return os.path.basename(args.model) if args.model else "tutorial"


def format_table(rows, epochs, model, batch):
    header = ["system", "model", "batch", "s/epoch min / median", f"test acc epoch 1 / {epochs}", "runs", "versions"]
    lines = []
    for row in rows:
        if row["skipped"]:
            lines.append([row["system"], model, str(batch), "-", "-", "0", row["skipped"]])
            continue
        if row["min"] is None:
            lines.append([row["system"], model, str(batch), "-", "-", f"0 of {row['failed']}", "failed"])
            continue
        runs = f"{row['runs']}" + (f" (+{row['failed']} failed)" if row["failed"] else "")
        lines.append([row["system"], model, str(batch), f"{row['min']:.2f} / {row['median']:.2f}",
                      f"{percent(row['acc_first'])} / {percent(row['acc_last'])}", runs, row["version"]])
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def ratio_lines(rows, threads):
    by_name = {row["system"]: row for row in rows if row["min"] is not None}
    ours = by_name.get("train_gpu")
    peers_rows = [by_name[s] for s in ("tensorflow", "torch-eager", "torch-compile") if s in by_name]
    out = []
    if not ours or not peers_rows:
        out.append("train_gpu vs the faster of TensorFlow and PyTorch: not available (a side is missing)")
    else:
        out.append("train_gpu vs the faster of TensorFlow and PyTorch (train_gpu's s/epoch / theirs; "
                   "below 1: train_gpu faster):")
        for key in ("min", "median"):
            best = min(peers_rows, key=lambda row: row[key])
            out.append(f"  {key}: {ours[key] / best[key]:.2f}x  ({ours[key]:.2f} s vs {best['system']} "
                       f"{best[key]:.2f} s)")
    one = by_name.get("train_gpu-1thread")
    if ours and one:
        out.append(f"train_gpu --threads {threads} vs --threads 1 (below 1: more threads faster):")
        for key in ("min", "median"):
            out.append(f"  {key}: {ours[key] / one[key]:.2f}x  ({ours[key]:.2f} s vs {one[key]:.2f} s)")
    return out


def write_csv(path, rows, cpu, load, date, model, batch):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["cpu_model", "load", "date", "system", "runs", "failed_runs", "s_per_epoch_min",
                         "s_per_epoch_median", "test_accuracy_epoch_1", "test_accuracy_last_epoch", "versions",
                         "threads", "steady_epoch_seconds", "model", "batch_size"])
        for row in rows:
            number = lambda v, fmt: "" if v is None else format(v, fmt)  # noqa: E731
            writer.writerow([cpu, load, date, row["system"], row["runs"], row["failed"], number(row["min"], ".4f"),
                             number(row["median"], ".4f"), number(row["acc_first"], ".4f"),
                             number(row["acc_last"], ".4f"), row["skipped"] or row["version"], row["threads_note"],
                             " ".join(f"{s:.4f}" for s in row["steady_seconds"]), model, batch])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--data-dir", default="data/mnist", help="the four MNIST IDX files (.gz or raw)")
    parser.add_argument("--train-gpu", metavar="BIN", help="the engine [default: build/release/train_gpu]")
    parser.add_argument("--train-gpu-args", default="", metavar="STRING",
                        help="extra arguments for `train_gpu train`, one shell-quoted string")
    parser.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    parser.add_argument("--tf-inter-op", type=int, default=1, help="TensorFlow's inter_op threads (default 1)")
    parser.add_argument("--jax-layout", choices=("nhwc", "nchw"), default="nhwc",
                        help="jax: nhwc (channels-last conv, reshape+max pooling; ~4x faster on XLA:CPU) or "
                             "nchw (peers.py's GPU formulation) [default: nhwc]")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin each run to the first --threads CPUs")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every system once (default 3)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; timed: 2..E (default 3)")
    parser.add_argument("--batch", "--batch-size", dest="batch", type=int, default=64,
                        help="batch size for every system (default 64)")
    parser.add_argument("--model", metavar="FILE.json",
                        help="a model as Keras's model.to_json() writes it, instead of the tutorial's CNN; trained by "
                             "tensorflow (keras.models.model_from_json) and train_gpu (--model); the PyTorch and JAX "
                             "systems are skipped (no Keras JSON reader)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit-train", type=int, default=0, help="smoke runs: the first N training images (0: all)")
    parser.add_argument("--limit-test", type=int, default=0, help="the first N test images (0: all 10,000)")
    parser.add_argument("--systems", default=None,
                        help="comma-separated, from " + ",".join(SYSTEMS) + " (default: all but torch-compile, "
                             "and train_gpu-1thread only with --contention)")
    parser.add_argument("--contention", action="store_true",
                        help="run everything beside one busy process per CPU the runs use (started and stopped "
                             "by this script)")
    parser.add_argument("--torch-compile", action="store_true", help="add torch-compile (slow to compile)")
    parser.add_argument("--skip", default="", help="comma-separated systems to leave out")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per run before it is killed (default 1800)")
    parser.add_argument("--venv", default=os.path.join(REPO, "build", "cpu-peers-venv"),
                        help="the frameworks' virtual environment, created when missing [default: build/cpu-peers-venv]")
    parser.add_argument("--venv-python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable,
                        help="the Python that creates the venv (needs the venv module) [default: /usr/bin/python3]")
    parser.add_argument("--no-install", action="store_true", help="never run pip; the venv must hold everything")
    parser.add_argument("--torch-index-url", help="pip index for torch, e.g. https://download.pytorch.org/whl/cpu")
    parser.add_argument("--csv", help="also write the table's rows as CSV")
    parser.add_argument("--child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    if min(args.threads, args.tf_inter_op, args.rounds, args.epochs, args.batch, args.timeout) < 1:
        parser.error("--threads, --tf-inter-op, --rounds, --epochs, --batch and --timeout must be positive")
    if args.limit_train < 0 or args.limit_test < 0:
        parser.error("--limit-train and --limit-test must not be negative")
    if args.systems is None:
        args.systems = ",".join(s for s in SYSTEMS if s != "torch-compile"
                                and (s != "train_gpu-1thread" or args.contention))
    systems = [s for s in args.systems.split(",") if s]
    if args.torch_compile and "torch-compile" not in systems:
        systems.append("torch-compile")
    skip = [s for s in args.skip.split(",") if s]
    for name in systems + skip:
        if name not in SYSTEMS:
            parser.error(f"unknown system '{name}' (choose from {', '.join(SYSTEMS)})")
    args.systems = [s for s in SYSTEMS if s in systems and s not in skip]  # the fixed order of a round
    args.skipped = {}
    if args.model:
        args.model = os.path.abspath(args.model)
        try:
            with open(args.model) as f:
                json.load(f)
        except (OSError, ValueError) as error:
            parser.error(f"--model {args.model}: cannot read it as JSON ({error}); expected a file written by "
                         "Keras's model.to_json(), e.g. tools/bench/models/simple_mnist_convnet.json")
        args.skipped = {s: NO_KERAS_JSON for s in args.systems if s not in KERAS_JSON_SYSTEMS}
        args.systems = [s for s in args.systems if s in KERAS_JSON_SYSTEMS]
    if not args.systems:
        parser.error("no system left to run")
    args.data_dir = os.path.abspath(args.data_dir)
    if any(s in TRAIN_GPU_SYSTEMS for s in args.systems):
        args.train_gpu = os.path.abspath(args.train_gpu or os.path.join(REPO, "build", "release", "train_gpu"))
        if not os.access(args.train_gpu, os.X_OK):
            parser.error(f"no train_gpu binary at {args.train_gpu} (--train-gpu BIN, or --skip train_gpu)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    for name in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
        peers.find_file(args.data_dir, name)  # exits naming the missing file
    started = time.time()
    say(f"cpu_peers.py  {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    say(f"machine: {machine_description()}")
    cpus = pinned_cpus(args.threads, args.pin)
    say(f"threads: {args.threads} per system; each run pinned to CPUs {','.join(map(str, cpus))}"
        + ("" if args.pin else " (--no-pin: all it may use)")
        + f"; OMP/OPENBLAS/MKL_NUM_THREADS={args.threads}")
    if args.threads > len(os.sched_getaffinity(0)):
        say(f"WARNING: --threads {args.threads} exceeds the {len(os.sched_getaffinity(0))} CPUs this process may use")
    for system, reason in args.skipped.items():
        say(f"{system}: {reason}")
    python = ensure_venv(args, args.systems) if any(s in PYTHON_SYSTEMS for s in args.systems) else None
    python_version = ""
    if python:
        python_version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip()
        say(f"frameworks: {python_version} in {args.venv}")
    train_gpu = TrainGpu(args) if any(s in TRAIN_GPU_SYSTEMS for s in args.systems) else None

    runs = {system: [] for system in args.systems}
    work_root = tempfile.mkdtemp(prefix="cpu-peers-")
    load = "quiet"
    if args.contention:
        with Contention(cpus) as contention:
            load = f"loaded: one busy process on each of CPUs {','.join(map(str, cpus))}"
            say(f"contention: {len(cpus)} busy processes (pids {' '.join(map(str, contention.pids()))}), "
                f"one pinned to each of CPUs {','.join(map(str, cpus))}")
            run_rounds(args, python, train_gpu, runs, work_root)
        say("contention: the busy processes are stopped")
    else:
        run_rounds(args, python, train_gpu, runs, work_root)
    report(args, runs, work_root, python_version, load, started)
    return 0 if all(runs[s] and any("error" not in r for r in runs[s]) for s in args.systems) else 1


def run_rounds(args, python, train_gpu, runs, work_root):
    count = len(args.systems)
    for round_index in range(args.rounds):
        order = args.systems[round_index % count:] + args.systems[:round_index % count]
        say(f"\n== round {round_index + 1}/{args.rounds}: {' -> '.join(order)}")
        for system in order:
            work = os.path.join(work_root, f"r{round_index + 1}-{system}")
            os.makedirs(work)
            start = time.perf_counter()
            try:
                if system in TRAIN_GPU_SYSTEMS:
                    result = train_gpu.run(args, work, 1 if system == "train_gpu-1thread" else args.threads)
                else:
                    result = run_python_system(args, python, system, work)
                wall = time.perf_counter() - start
                result["wall"] = wall
                epochs = " ".join(f"{s:.2f}" for s in result["epoch_seconds"])
                accuracies = " ".join(percent(a) for a in result["accuracies"])
                say(f"  {system:<14} epochs {epochs} s  test acc {accuracies}  ({wall:.0f} s wall)")
                shutil.rmtree(work, ignore_errors=True)
            except (RunFailed, OSError, subprocess.SubprocessError) as error:
                result = {"error": str(error), "wall": time.perf_counter() - start}
                say(f"  {system:<14} FAILED: {error}")
            runs[system].append(result)


def report(args, runs, work_root, python_version, load, started):
    rows = [summarize(system, runs[system], args.epochs) for system in args.systems]
    rows += [skipped_row(system, reason, args.epochs) for system, reason in args.skipped.items()]
    train_count = next((r["train_count"] for rs in runs.values() for r in rs if "train_count" in r), None)
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    say("")
    say(f"## {cpu_model()}: train_gpu and its peers on the CPU, {args.threads} thread(s) each, {load}")
    say("")
    say(f"- date: {date}")
    say(f"- machine: {machine_description()}")
    if python_version:
        say(f"- frameworks' Python: {python_version} ({args.venv})")
    images = f"{train_count:,}" if train_count else "?"
    steady_text = (f"epochs 2-{args.epochs} of every run" if args.epochs > 1
                   else "epoch 1 of every run (with --epochs 1, warm-up included)")
    say(f"- job: model {model_name(args)}, {images} training images per epoch, batch {args.batch}, {args.epochs} epoch(s) per run, "
        f"{args.rounds} round(s); s/epoch = the training pass alone (no test pass), over {steady_text}")
    for row in rows:
        if row["threads_note"]:
            say(f"- {row['system']}: {row['threads_note']}")
    say("")
    say(format_table(rows, args.epochs, model_name(args), args.batch))
    say("")
    for line in ratio_lines(rows, args.threads):
        say(line)
    for row in rows:
        for error in row["errors"]:
            say(f"\n{row['system']} failed: {error}")
    if args.csv:
        write_csv(args.csv, rows, cpu_model(), load, date, model_name(args), args.batch)
        say(f"\nrows written to {args.csv}")
    say(f"\n(total {time.time() - started:.0f} s)")
    if not any(row["errors"] for row in rows):
        shutil.rmtree(work_root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
