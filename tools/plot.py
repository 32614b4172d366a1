#!/usr/bin/env python3
"""Figures of a train_gpu run directory.

Usage: tools/plot.py RUN_DIR [--out DIR] [--features-index I] [--evaluation DIR]

Reads what `train_gpu train` and `train_gpu evaluate` leave in RUN_DIR and writes PNGs into
RUN_DIR/plots/ (or --out):

  label_distribution.png  train vs test label percentages   <- label_distribution.csv
  loss.png, accuracy.png  per-epoch curves: train, test, and val where the run had a validation
                          split (--validation-split)        <- metrics.csv (accuracies are 0..1)
  learning_rate.png       the rate of each epoch (log scale when it spans more than 10x)
                                                             <- metrics.csv's learning_rate column
  confusion.png           counts, colored by row (recall), with recall and precision margins
                                                             <- evaluation/confusion.csv
  features.png            the 32 conv maps of one test image <- evaluation/features-test-<i>.npy
                                                             (the lowest i, or --features-index)
  samples.png             25 test digits with their labels   <- evaluation/sample_images.npy, sample_labels.npy
  mistakes.png            the most confident mistakes        <- evaluation/mistakes.csv, mistake_images.npy

"evaluation/" above is the evaluation of the run's final checkpoint, the one metrics.csv's last
epoch ends with: RUN_DIR/evaluation (training writes it), or else the RUN_DIR/evaluation/<name>/
whose evaluation.json records that epoch (`train_gpu evaluate` of an older checkpoint writes
there). The script says which it draws, warns when none matches the curves, and writes the
checkpoint, epoch and step under every figure drawn from it. --evaluation DIR draws another.

A figure whose input is missing is skipped with a message; a metrics.csv written before the
learning_rate and val_loss/val_accuracy columns existed draws the train and test curves only. Needs numpy and matplotlib
(Debian: apt install python3-matplotlib; else pip install -r tools/requirements-plots.txt).
Exit status: 0 when it ran (even if figures were skipped), 1 for a bad run directory or
unreadable input, 3 when matplotlib or numpy is missing.
"""

import argparse
import csv
import json
import os
import re
import sys

MISSING_DEPENDENCY_EXIT = 3


def import_plotting():
    try:
        import numpy  # noqa: F401
        import matplotlib

        matplotlib.use("Agg")  # files only; no display needed
        import matplotlib.pyplot  # noqa: F401
    except ImportError as error:
        sys.stderr.write(
            "plot.py: error: %s. The figures need numpy and matplotlib: install python3-matplotlib or "
            "pip install -r tools/requirements-plots.txt (or run this script with a python3 that has "
            "them, e.g. /usr/bin/python3 tools/plot.py RUN_DIR)\n" % error
        )
        sys.exit(MISSING_DEPENDENCY_EXIT)


class InputError(Exception):
    """An input file exists but cannot be used; the message names it."""


def read_csv_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise InputError("%s: expected a header and at least one row" % path)
    return rows[0], rows[1:]


def read_columns(path, wanted):
    """The named columns of a CSV with a header, as lists of floats."""
    header, rows = read_csv_rows(path)
    missing = [name for name in wanted if name not in header]
    if missing:
        raise InputError("%s: missing column(s) %s; header is %s" % (path, ", ".join(missing), ",".join(header)))
    try:
        return {name: [float(row[header.index(name)]) for row in rows] for name in wanted}
    except (ValueError, IndexError) as error:
        raise InputError("%s: unreadable row: %s" % (path, error))


def read_optional_column(path, name):
    """A column that newer train_gpu versions write and older ones do not, as floats (NaN where a
    row leaves it empty, which matplotlib leaves out of a line); None when the header lacks it or
    no row fills it."""
    header, rows = read_csv_rows(path)
    if name not in header:
        return None
    column = header.index(name)
    values = []
    try:
        for row in rows:
            text = row[column] if column < len(row) else ""
            values.append(float(text) if text.strip() else float("nan"))
    except ValueError as error:
        raise InputError("%s: unreadable %s: %s" % (path, name, error))
    if all(value != value for value in values):  # all NaN: a run without a validation split
        return None
    return values


def save(figure, path):
    import matplotlib.pyplot as plt

    # No bbox_inches="tight": the pixel size stays figsize * dpi, which the tests rely on.
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print("wrote %s" % path)
    return path


def plot_label_distribution(run_dir, out_dir):
    import matplotlib.pyplot as plt
    import numpy as np

    source = os.path.join(run_dir, "label_distribution.csv")
    if not os.path.isfile(source):
        return skip("label_distribution.png", source)
    columns = read_columns(source, ["label", "train_percent", "test_percent"])
    labels = [int(v) for v in columns["label"]]
    x = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(8, 4.5))
    width = 0.4
    axes.bar(x - width / 2, columns["train_percent"], width, label="train")
    axes.bar(x + width / 2, columns["test_percent"], width, label="test")
    axes.set_xticks(x, [str(v) for v in labels])
    axes.set_xlabel("label")
    axes.set_ylabel("share of the split (%)")
    axes.set_title("Label distribution")
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return save(figure, os.path.join(out_dir, "label_distribution.png"))


def plot_curves(run_dir, out_dir):
    import matplotlib.pyplot as plt

    source = os.path.join(run_dir, "metrics.csv")
    if not os.path.isfile(source):
        return [skip("loss.png", source), skip("accuracy.png", source), skip("learning_rate.png", source)]
    columns = read_columns(source, ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"])
    for name in ("val_loss", "val_accuracy", "learning_rate"):
        columns[name] = read_optional_column(source, name)
    epochs = columns["epoch"]
    written = []
    for name, title, ylabel, keys, scale in (
        ("loss.png", "Loss (sparse categorical cross-entropy)", "loss", ("train_loss", "val_loss", "test_loss"), 1.0),
        ("accuracy.png", "Accuracy", "accuracy (%)", ("train_accuracy", "val_accuracy", "test_accuracy"), 100.0),
    ):
        figure, axes = plt.subplots(figsize=(8, 5))
        for key in keys:
            if columns[key] is not None:
                axes.plot(epochs, [scale * v for v in columns[key]], marker="o", label=key.split("_")[0])
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        axes.set_title(title)
        if len(epochs) <= 20:
            axes.set_xticks(epochs)
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        written.append(save(figure, os.path.join(out_dir, name)))
    written.append(plot_learning_rate(epochs, columns["learning_rate"], source, out_dir))
    return written


def plot_learning_rate(epochs, rates, source, out_dir):
    """The rate each epoch started with: a small figure of its own, as its scale is not a loss's."""
    import matplotlib.pyplot as plt

    if rates is None:
        print("skipping learning_rate.png: %s has no learning_rate column (written before train_gpu recorded it)"
              % source)
        return None
    figure, axes = plt.subplots(figsize=(8, 3))
    axes.plot(epochs, rates, marker="o", drawstyle="steps-post", label="learning_rate")
    known = [rate for rate in rates if rate == rate and rate > 0]
    if known and max(known) > 10 * min(known):  # decays of several orders: each visible
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("learning rate")
    axes.set_title("Learning rate at each epoch's first step")
    if len(epochs) <= 20:
        axes.set_xticks(epochs)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return save(figure, os.path.join(out_dir, "learning_rate.png"))


class Evaluation:
    """The evaluation directory the figures come from, and the caption that names its checkpoint."""

    def __init__(self, directory, caption):
        self.directory = directory
        self.caption = caption


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as error:
        raise InputError("%s: not JSON: %s" % (path, error))


def describe_checkpoint(info):
    """'checkpoint epoch-003.safetensors: epoch 3, step 2,814 (test split)' from an evaluation.json."""
    if info is None or "checkpoint" not in info:
        return "checkpoint not recorded (an evaluation written before train_gpu recorded it)"
    name = os.path.basename(info["checkpoint"]) if info["checkpoint"] else "unknown file"
    epoch = "?" if info.get("epoch") is None else str(info["epoch"])
    if info.get("batches_into_epoch"):
        epoch += " + %d batches" % info["batches_into_epoch"]
    step = "?" if info.get("step") is None else "{:,}".format(info["step"])
    return "checkpoint %s: epoch %s, step %s (%s split)" % (name, epoch, step, info.get("split", "?"))


def final_epoch(run_dir):
    """metrics.csv's last epoch, or None without a readable one."""
    source = os.path.join(run_dir, "metrics.csv")
    if not os.path.isfile(source):
        return None
    epochs = read_columns(source, ["epoch"])["epoch"]
    return int(epochs[-1])


def describes_final_checkpoint(info, epoch):
    return (info is not None and info.get("epoch") == epoch and not info.get("batches_into_epoch")
            and info.get("split") == "test")


def choose_evaluation(run_dir, chosen=None):
    """RUN/evaluation, or the evaluation of the final checkpoint beside it (see the docstring)."""
    if chosen is not None:
        if not os.path.isdir(chosen):
            raise InputError("--evaluation %s: no such directory" % chosen)
        candidates = [chosen]
    else:
        main = os.path.join(run_dir, "evaluation")
        others = []
        if os.path.isdir(main):
            others = sorted(os.path.join(main, name) for name in os.listdir(main)
                            if os.path.isfile(os.path.join(main, name, "evaluation.json")))
        candidates = [main] + others
    infos = []
    for directory in candidates:
        path = os.path.join(directory, "evaluation.json")
        infos.append(read_json(path) if os.path.isfile(path) else None)
    epoch = final_epoch(run_dir)
    index = 0
    if chosen is None and epoch is not None:
        matching = [i for i, info in enumerate(infos) if describes_final_checkpoint(info, epoch)]
        index = matching[0] if matching else 0
        if not matching and infos[0] is not None and "checkpoint" in infos[0]:
            print("warning: %s is not the evaluation of the final checkpoint (epoch %d, where metrics.csv ends) but of "
                  "%s; its figures say so. Run train_gpu evaluate on the final checkpoint to replace it."
                  % (candidates[0], epoch, describe_checkpoint(infos[0])))
        elif not matching and infos[0] is not None:
            print("note: %s/evaluation.json records no checkpoint (an older train_gpu wrote it): whether its figures "
                  "are of epoch %d, where metrics.csv ends, is unknown" % (candidates[0], epoch))
    evaluation = Evaluation(candidates[index], describe_checkpoint(infos[index]))
    if infos[index] is not None:
        print("drawing the evaluation in %s: %s" % (evaluation.directory, evaluation.caption))
    return evaluation


# What tight_layout leaves free at the bottom for the caption (a 8-point line in a 7-inch figure).
CAPTION_ROOM = (0, 0.03, 1, 1)


def caption(figure, text):
    """Which checkpoint a figure shows, in its bottom-left corner."""
    figure.text(0.005, 0.005, text, fontsize=8, color="dimgray", ha="left", va="bottom")


def margin_range(values):
    """The color range of a precision or recall margin: from a whole percent at least 2 points
    below the lowest value to 100%, so 94.9% and 99.3% differ visibly (on 0-100% both are dark
    green). (0, 1) when no value is known."""
    import numpy as np

    known = values[~np.isnan(values)]
    if known.size == 0:
        return 0.0, 1.0
    return max(0.0, np.floor(100 * known.min() - 2) / 100), 1.0


def plot_confusion(evaluation, out_dir):
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import PowerNorm

    source = os.path.join(evaluation.directory, "confusion.csv")
    if not os.path.isfile(source):
        return skip("confusion.png", source)
    header, rows = read_csv_rows(source)
    names = header[1:]
    try:
        counts = np.array([[int(v) for v in row[1:]] for row in rows], dtype=np.int64)
    except ValueError as error:
        raise InputError("%s: unreadable count: %s" % (source, error))
    if counts.shape != (len(names), len(names)):
        raise InputError("%s: expected a %d x %d matrix, found %s" % (source, len(names), len(names), counts.shape))
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    diagonal = np.diag(counts)
    # 0/0 (a class without samples, or never predicted) is shown as n/a, as in the CLI table.
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, diagonal / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, diagonal / np.maximum(predicted, 1), np.nan)
        row_share = counts / np.maximum(support, 1)[:, None]
    n = len(names)

    figure = plt.figure(figsize=(9, 8))
    # Fixed margins leave room for long (Fashion-MNIST) class names, rotated below the matrix.
    grid = figure.add_gridspec(2, 2, width_ratios=[n, 1.4], height_ratios=[n, 1.1], wspace=0.05, hspace=0.08,
                               left=0.15, right=0.84, bottom=0.16, top=0.89)
    main = figure.add_subplot(grid[0, 0])
    right = figure.add_subplot(grid[0, 1], sharey=main)
    bottom = figure.add_subplot(grid[1, 0], sharex=main)
    # A power norm lifts the small off-diagonal shares (0.5% of a class) out of the white, so the
    # confusions are visible next to a ~99% diagonal; the counts are printed in every cell anyway.
    image = main.imshow(row_share, cmap="Blues", norm=PowerNorm(gamma=0.3, vmin=0, vmax=1), aspect="auto")
    for t in range(n):
        for p in range(n):
            main.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=8,
                      color="white" if row_share[t, p] > 0.3 else "black")
    main.set_yticks(range(n), names)
    main.set_ylabel("true class")
    main.tick_params(labelbottom=False)
    figure.suptitle("Confusion matrix, %d samples (color: share of the true class)" % counts.sum())

    def margin(axes, values, vertical):
        low, high = margin_range(values)
        shown = np.nan_to_num(values.reshape((n, 1) if vertical else (1, n)), nan=low)
        axes.imshow(shown, cmap="Greens", vmin=low, vmax=high, aspect="auto")
        for i, value in enumerate(values):
            text = "n/a" if np.isnan(value) else "%.1f%%" % (100 * value)
            x, y = (0, i) if vertical else (i, 0)
            axes.text(x, y, text, ha="center", va="center", fontsize=7,
                      color="white" if not np.isnan(value) and value > (low + high) / 2 else "black")
        return "%d-%d%%" % (round(100 * low), round(100 * high))

    recall_range = margin(right, recall, vertical=True)
    right.set_xticks([0], ["recall\n" + recall_range])
    right.xaxis.set_label_position("top")
    right.tick_params(labelleft=False, labelbottom=False, labeltop=True, bottom=False, top=True)
    precision_range = margin(bottom, precision, vertical=False)
    bottom.set_xticks(range(n), names, rotation=45 if max(len(s) for s in names) > 2 else 0)
    bottom.set_yticks([0], ["precision\n" + precision_range])
    bottom.set_xlabel("predicted class")
    figure.colorbar(image, ax=[main, right, bottom], fraction=0.03, pad=0.02,
                    label="share of the true class (power scale)")
    caption(figure, evaluation.caption)
    return save(figure, os.path.join(out_dir, "confusion.png"))


def feature_files(evaluation_dir):
    found = []
    if os.path.isdir(evaluation_dir):
        for name in os.listdir(evaluation_dir):
            match = re.fullmatch(r"features-test-(\d+)\.npy", name)
            if match:
                found.append((int(match.group(1)), os.path.join(evaluation_dir, name)))
    return [path for _, path in sorted(found)]


def plot_features(evaluation, out_dir, index=None):
    import matplotlib.pyplot as plt
    import numpy as np

    evaluation_dir = evaluation.directory
    if index is not None:
        candidates = [os.path.join(evaluation_dir, "features-test-%d.npy" % index)]
        if not os.path.isfile(candidates[0]):
            return skip("features.png", candidates[0])
    else:
        candidates = feature_files(evaluation_dir)  # the lowest index: image 0 after training
    if not candidates:
        return skip("features.png", os.path.join(evaluation_dir, "features-test-<index>.npy"))
    source = candidates[0]
    maps = np.load(source)
    if maps.ndim != 3:
        raise InputError("%s: expected (maps, rows, cols), found shape %s" % (source, maps.shape))
    stem = source[: -len(".npy")]
    title = "Convolution feature maps after ReLU: %s" % os.path.basename(source)
    label = evaluation.caption
    if os.path.isfile(stem + ".json"):
        info = read_json(stem + ".json")
        if "checkpoint" in info:  # `train_gpu features` may have written it from another checkpoint
            label = describe_checkpoint(info)
        p = info["probabilities"][info["predicted"]]
        title = "Conv maps after ReLU, test image %d: label %s, predicted %s (p = %.3f)" % (
            info["index"], info["label"], info["predicted"], p)
    has_input = os.path.isfile(stem + "-input.npy")
    columns = 8
    rows = (maps.shape[0] + columns - 1) // columns
    figure = plt.figure(figsize=(12, 6))
    grid = figure.add_gridspec(rows, columns + (2 if has_input else 0), wspace=0.08, hspace=0.15)
    if has_input:
        axes = figure.add_subplot(grid[: min(rows, 2), 0:2])
        axes.imshow(np.load(stem + "-input.npy"), cmap="gray", vmin=0, vmax=255)
        axes.set_title("input")
        axes.axis("off")
    offset = 2 if has_input else 0
    for i in range(maps.shape[0]):
        axes = figure.add_subplot(grid[i // columns, offset + i % columns])
        axes.imshow(maps[i], cmap="viridis")  # each map on its own color scale
        axes.set_title("%d" % i, fontsize=7, pad=2)
        axes.axis("off")
    figure.suptitle(title)
    caption(figure, label)
    return save(figure, os.path.join(out_dir, "features.png"))


def plot_samples(evaluation, out_dir):
    import matplotlib.pyplot as plt
    import numpy as np

    evaluation_dir = evaluation.directory
    images_path = os.path.join(evaluation_dir, "sample_images.npy")
    labels_path = os.path.join(evaluation_dir, "sample_labels.npy")
    for path in (images_path, labels_path):
        if not os.path.isfile(path):
            return skip("samples.png", path)
    images = np.load(images_path)
    labels = np.load(labels_path)
    predictions_path = os.path.join(evaluation_dir, "sample_predictions.npy")
    predictions = np.load(predictions_path) if os.path.isfile(predictions_path) else None
    count = min(25, len(images), len(labels))
    figure, axes_grid = plt.subplots(5, 5, figsize=(7, 7.5))
    for i, axes in enumerate(axes_grid.flat):
        axes.axis("off")
        if i >= count:
            continue
        axes.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        if predictions is None:
            axes.set_title("label %d" % labels[i], fontsize=9)
        else:
            wrong = predictions[i] != labels[i]
            axes.set_title("label %d, pred %d" % (labels[i], predictions[i]), fontsize=9,
                           color="red" if wrong else "black")
    figure.suptitle("Test samples with labels" + ("" if predictions is None else " and predictions (red: wrong)"))
    figure.tight_layout(rect=CAPTION_ROOM)
    caption(figure, evaluation.caption)
    return save(figure, os.path.join(out_dir, "samples.png"))


def plot_mistakes(evaluation, out_dir):
    import matplotlib.pyplot as plt
    import numpy as np

    evaluation_dir = evaluation.directory
    table_path = os.path.join(evaluation_dir, "mistakes.csv")
    images_path = os.path.join(evaluation_dir, "mistake_images.npy")
    for path in (table_path, images_path):
        if not os.path.isfile(path):
            return skip("mistakes.png", path)
    with open(table_path, newline="") as f:
        rows = list(csv.DictReader(f))
    images = np.load(images_path)
    count = min(32, len(rows), len(images))
    if count == 0:
        print("skipping mistakes.png: %s lists no mistakes" % table_path)
        return None
    columns = 8
    figure, axes_grid = plt.subplots(4, columns, figsize=(12, 7))
    for i, axes in enumerate(axes_grid.flat):
        axes.axis("off")
        if i >= count:
            continue
        row = rows[i]
        axes.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        axes.set_title("#%s: %s \u2192 %s\n%.1f%%" % (row["index"], row["true_label"], row["predicted_label"],
                                                   100 * float(row["confidence"])), fontsize=8)
    figure.suptitle("Most confident mistakes (%d of %d): true \u2192 predicted, confidence" % (count, len(rows)))
    figure.tight_layout(rect=CAPTION_ROOM)
    caption(figure, evaluation.caption)
    return save(figure, os.path.join(out_dir, "mistakes.png"))


def skip(figure_name, missing):
    print("skipping %s: %s not found" % (figure_name, missing))
    return None


def main(argv):
    parser = argparse.ArgumentParser(description="Figures of a train_gpu run directory (PNG files in RUN_DIR/plots).")
    parser.add_argument("run_dir", help="run directory written by train_gpu train (runs/<time>)")
    parser.add_argument("--out", help="output directory [default: RUN_DIR/plots]")
    parser.add_argument("--features-index", type=int, metavar="I",
                        help="plot evaluation/features-test-I.npy [default: the lowest index present]")
    parser.add_argument("--evaluation", metavar="DIR",
                        help="draw this evaluation directory (e.g. RUN_DIR/evaluation/epoch-002) [default: the "
                             "evaluation of the final checkpoint]")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        sys.stderr.write("plot.py: error: %s is not a directory; pass a run directory such as runs/20250101-120000\n"
                         % args.run_dir)
        return 1
    import_plotting()
    out_dir = args.out or os.path.join(args.run_dir, "plots")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        sys.stderr.write("plot.py: error: cannot create %s: %s\n" % (out_dir, error.strerror))
        return 1
    written = []
    try:
        evaluation = choose_evaluation(args.run_dir, args.evaluation)
        plots = (lambda: plot_label_distribution(args.run_dir, out_dir), lambda: plot_curves(args.run_dir, out_dir),
                 lambda: plot_confusion(evaluation, out_dir),
                 lambda: plot_features(evaluation, out_dir, args.features_index),
                 lambda: plot_samples(evaluation, out_dir), lambda: plot_mistakes(evaluation, out_dir))
        for plot in plots:
            result = plot()
            written += [p for p in (result if isinstance(result, list) else [result]) if p]
    except (InputError, OSError, ValueError, KeyError) as error:
        sys.stderr.write("plot.py: error: %s\n" % error)
        return 1
    print("%d figure(s) in %s" % (len(written), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
