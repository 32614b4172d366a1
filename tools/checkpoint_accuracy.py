#!/usr/bin/env python3
"""Test-set accuracy and loss of a train_gpu checkpoint, computed with numpy alone.

Usage:
    tools/checkpoint_accuracy.py CHECKPOINT [--data-dir DIR]

DIR holds the t10k images and labels of MNIST or Fashion-MNIST (.gz or raw, named
t10k-images-idx3-ubyte or t10k-images.idx3-ubyte). Without --data-dir the script uses
data/<dataset recorded in the checkpoint>, i.e. data/mnist for an MNIST checkpoint. It prints

    test accuracy 98.71% (9871/10000)
    test loss 0.0412

It is an independent check of the C++/CUDA trainer: it parses the safetensors file by hand
(8-byte little-endian header length, JSON header, raw little-endian float32 data), verifies
the data_crc32 stored in the metadata, and runs the network in numpy:
conv 3x3 valid (32 filters) + ReLU -> 2x2 max-pool -> flatten in (channel, row, col) order ->
dense 128 + ReLU -> dense 10, with dense layers y = x @ W.T + b (PyTorch's layout).

The checkpoint holds conv.weight (32,1,3,3), conv.bias (32), fc1.weight (128,5408),
fc1.bias (128), fc2.weight (10,128), fc2.bias (10), Adam's moments as optim.m.<name> and
optim.v.<name>, and string metadata (format, step, epoch, seed, dataset, model, ...).
In PyTorch (pip install torch safetensors) it loads into a module with the same names:

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 32, 3)        # conv.weight (32,1,3,3), conv.bias (32)
            self.fc1 = nn.Linear(32 * 13 * 13, 128)  # fc1.weight (128,5408) = (out, in)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):                      # x: (N,1,28,28) float, pixels / 255
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            x = torch.flatten(x, 1)                # (channel, row, col) order, as trained
            return self.fc2(F.relu(self.fc1(x)))   # logits

    tensors = load_file("checkpoint.safetensors")
    model = Net()
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optim.")})
    with safe_open("checkpoint.safetensors", framework="pt") as f:
        print(f.metadata())                        # {'format': 'train_gpu-checkpoint-v1', ...}
"""

import argparse
import gzip
import json
import os
import sys
import zlib

import numpy as np

PARAMETERS = {
    "conv.weight": (32, 1, 3, 3),
    "conv.bias": (32,),
    "fc1.weight": (128, 5408),
    "fc1.bias": (128,),
    "fc2.weight": (10, 128),
    "fc2.bias": (10,),
}
FORMAT = "train_gpu-checkpoint-v1"
MAX_HEADER_BYTES = 100_000_000
BATCH = 1000  # images per forward pass: bounds the im2col buffer at ~24 MB


class CheckpointError(Exception):
    pass


def read_checkpoint(path, allow_state_dict=False, tensors=None):
    """Returns (parameters dict name -> float32 array, metadata dict).

    allow_state_dict: also accept a file without train_gpu metadata that holds exactly the
    expected tensors (a PyTorch state_dict saved with safetensors); it has no checksum to verify.
    tensors: the expected {name: shape}, or a function of the metadata that returns them (the
    model a checkpoint records decides its tensors); the tutorial's six parameters by default."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError(f"{path}: {len(blob)} bytes, too short for a safetensors file")
    header_length = int.from_bytes(blob[:8], "little")
    if header_length > MAX_HEADER_BYTES or 8 + header_length > len(blob):
        raise CheckpointError(f"{path}: header length {header_length} does not fit the {len(blob)}-byte file")
    try:
        header = json.loads(blob[8:8 + header_length])
    except ValueError as e:
        raise CheckpointError(f"{path}: the header is not valid JSON ({e})")
    metadata = header.pop("__metadata__", {})
    expected = PARAMETERS if tensors is None else tensors(metadata) if callable(tensors) else tensors
    state_dict = allow_state_dict and metadata.get("format") != FORMAT and set(header) == set(expected)
    if metadata.get("format") != FORMAT and not state_dict:
        raise CheckpointError(f"{path}: format {metadata.get('format')!r}, expected {FORMAT!r}")
    data_start = 8 + header_length
    data = blob[data_start:]
    stored_crc = metadata.get("data_crc32")
    actual_crc = f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"
    if not state_dict and stored_crc != actual_crc:
        raise CheckpointError(f"{path}: checksum mismatch: the tensor data is corrupt "
                              f"(expected crc32 {stored_crc}, found {actual_crc})")
    parameters = {}
    for name, shape in expected.items():
        shape = tuple(shape)
        entry = header.get(name)
        if entry is None:
            raise CheckpointError(f"{path}: missing tensor {name!r}")
        if entry["dtype"] != "F32" or tuple(entry["shape"]) != shape:
            raise CheckpointError(f"{path}: tensor {name!r} is {entry['dtype']} {entry['shape']}, "
                                  f"expected F32 {list(shape)}")
        begin, end = entry["data_offsets"]
        count = int(np.prod(shape))
        if end - begin != 4 * count or end > len(data):
            raise CheckpointError(f"{path}: tensor {name!r} has bad data_offsets {[begin, end]}")
        parameters[name] = np.frombuffer(blob, dtype="<f4", count=count, offset=data_start + begin).reshape(shape)
    return parameters, metadata


def find_idx(directory, stem, kind):
    """stem 't10k-images', kind 'idx3-ubyte': accepts both name forms, gzipped or raw."""
    for name in (f"{stem}-{kind}", f"{stem}.{kind}"):
        for suffix in (".gz", ""):
            path = os.path.join(directory, name + suffix)
            if os.path.isfile(path):
                return path
    raise CheckpointError(f"no {stem}-{kind}[.gz] in {directory} (use --data-dir)")


def read_idx(path, expected_magic):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        blob = f.read()
    magic = int.from_bytes(blob[:4], "big")
    if magic != expected_magic:
        raise CheckpointError(f"{path}: IDX magic {magic:#010x}, expected {expected_magic:#010x}")
    rank = magic & 0xFF
    dims = [int.from_bytes(blob[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    count = int(np.prod(dims))
    offset = 4 + 4 * rank
    if len(blob) != offset + count:
        raise CheckpointError(f"{path}: {len(blob)} bytes, expected {offset + count} for shape {dims}")
    return np.frombuffer(blob, dtype=np.uint8, offset=offset).reshape(dims)


def logits_of(parameters, images):
    """images: (B, 28, 28) uint8 -> (B, 10) float32 logits."""
    x = images.astype(np.float32) / np.float32(255)
    batch = x.shape[0]
    # im2col: every 3x3 window as a row, then one GEMM with the (32, 9) filter matrix.
    patches = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (B, 26, 26, 3, 3)
    conv = patches.reshape(batch * 26 * 26, 9) @ parameters["conv.weight"].reshape(32, 9).T
    conv = conv.reshape(batch, 26, 26, 32).transpose(0, 3, 1, 2) + parameters["conv.bias"][None, :, None, None]
    conv = np.maximum(conv, 0)
    pooled = conv.reshape(batch, 32, 13, 2, 13, 2).max(axis=(3, 5))  # (B, 32, 13, 13)
    flat = pooled.reshape(batch, 32 * 13 * 13)                         # (channel, row, col) order
    hidden = np.maximum(flat @ parameters["fc1.weight"].T + parameters["fc1.bias"], 0)
    return hidden @ parameters["fc2.weight"].T + parameters["fc2.bias"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data-dir", help="directory with the t10k IDX files "
                        "(default: data/<dataset of the checkpoint>, e.g. data/mnist)")
    args = parser.parse_args()
    try:
        parameters, metadata = read_checkpoint(args.checkpoint)
        dataset = metadata.get("dataset", "mnist")
        data_dir = args.data_dir or os.path.join("data", dataset if dataset in ("mnist", "fashion-mnist") else "mnist")
        images = read_idx(find_idx(data_dir, "t10k-images", "idx3-ubyte"), 0x00000803)
        labels = read_idx(find_idx(data_dir, "t10k-labels", "idx1-ubyte"), 0x00000801)
        if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
            raise CheckpointError(f"{data_dir}: images {images.shape} and labels {labels.shape} do not match")
    except (OSError, CheckpointError, KeyError, TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    correct = 0
    loss_sum = 0.0
    for first in range(0, len(labels), BATCH):
        batch_labels = labels[first:first + BATCH].astype(np.int64)
        logits = logits_of(parameters, images[first:first + BATCH]).astype(np.float64)
        correct += int(np.sum(np.argmax(logits, axis=1) == batch_labels))
        # Cross-entropy via a max-shifted log-sum-exp, as the trainer computes it.
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss_sum += float(-log_probabilities[np.arange(len(batch_labels)), batch_labels].sum())
    total = len(labels)
    print(f"checkpoint {args.checkpoint}: step {metadata.get('step')}, epoch {metadata.get('epoch')}, "
          f"dataset {metadata.get('dataset')}")
    print(f"test accuracy {100.0 * correct / total:.2f}% ({correct}/{total})")
    print(f"test loss {loss_sum / total:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
