"""Reads a TensorBoard log directory with TensorBoard's own readers and prints what they found as
JSON, for tests/tensorboard_reader_test.cpp to check:

  {"scalars": {tag: [[step, value], ...]}, "histograms": {tag: [[step, num, min, max, sum, bucket_total], ...]},
   "images": {tag: [[step, width, height, png_ok], ...]}, "text": {tag: [[step, text], ...]},
   "raw": [[file, step, tag], ...], "files": [[file, intact], ...]}

"scalars" ... "text" come from EventAccumulator (what the TensorBoard server shows, after its own
purging of out-of-order steps); "raw" lists every summary value of every file, in reading order,
from the low-level event_file_loader, which purges nothing and checks each record's CRCs; a file is
"intact" when the records it read (each framed in 16 bytes) cover the whole file, so that no
record failed a CRC or was cut short.
Usage: read_tensorboard.py LOGDIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2


def main(logdir):
    accumulator = event_accumulator.EventAccumulator(
        logdir,
        size_guidance={kind: 0 for kind in (event_accumulator.SCALARS, event_accumulator.HISTOGRAMS,
                                            event_accumulator.IMAGES, event_accumulator.TENSORS)})
    accumulator.Reload()
    tags = accumulator.Tags()
    found = {"scalars": {}, "histograms": {}, "images": {}, "text": {}, "raw": [], "files": []}
    for tag in tags["scalars"]:
        found["scalars"][tag] = [[e.step, e.value] for e in accumulator.Scalars(tag)]
    for tag in tags["histograms"]:
        found["histograms"][tag] = [
            [e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max, e.histogram_value.sum,
             sum(e.histogram_value.bucket)] for e in accumulator.Histograms(tag)]
    for tag in tags["images"]:
        found["images"][tag] = [
            [e.step, e.width, e.height, e.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"]
            for e in accumulator.Images(tag)]
    for tag in tags["tensors"]:
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name != "text":
            continue
        found["text"][tag] = [[e.step, e.tensor_proto.string_val[0].decode("utf-8")] for e in accumulator.Tensors(tag)]

    for name in sorted(name for name in os.listdir(logdir) if "tfevents" in name):
        path = os.path.join(logdir, name)
        framed_bytes = 0
        for record in event_file_loader.RawEventFileLoader(path).Load():
            framed_bytes += len(record) + 16
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                found["raw"].append([name, event.step, value.tag])
        found["files"].append([name, framed_bytes == os.path.getsize(path)])
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
