"""Reads a TensorBoard log directory with TensorBoard's own readers and prints what they found as
JSON, for tests/tensorboard_reader_test.cpp to check:

  {"runs": {run: {"scalars": {tag: [[step, value], ...]}, "descriptions": {scalar tag: text},
                  "histograms": {tag: [[step, num, min, max, sum, bucket_total], ...]},
                  "images": {tag: [[step, width, height, png_ok], ...]}, "text": {tag: [[step, text], ...]}}},
   "raw": [[file, step, tag], ...], "files": [[file, intact], ...],
   "experiment": {...}, "session_groups": {...}}

A run is a directory with event files, named by its path below LOGDIR ("." for LOGDIR itself), as
TensorBoard's run selector names it. "runs" comes from the EventMultiplexer that the TensorBoard
server reads with (after its own purging of out-of-order steps); "raw" lists every summary value
of every file (paths below LOGDIR), in reading order, from the low-level event_file_loader, which
purges nothing and checks each record's CRCs; a file is "intact" when the records it read (each
framed in 16 bytes) cover the whole file, so that no record failed a CRC or was cut short.
"experiment" and "session_groups" are the HParams dashboard's own answers (the hparams plugin's
/experiment and /session_groups requests, as its web page sends them), in the plugin's JSON.
Usage: read_tensorboard.py LOGDIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing import data_provider, event_accumulator, event_file_loader
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import hparams_plugin
from werkzeug import test as werkzeug_test
from werkzeug.wrappers import Response


def read_run(accumulator):
    tags = accumulator.Tags()
    found = {"scalars": {}, "descriptions": {}, "histograms": {}, "images": {}, "text": {}}
    for tag in tags["scalars"]:
        found["scalars"][tag] = [[e.step, e.value] for e in accumulator.Scalars(tag)]
        try:
            found["descriptions"][tag] = accumulator.SummaryMetadata(tag).summary_description
        except KeyError:  # a tag written without metadata
            found["descriptions"][tag] = ""
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
    return found


def hparams_request(plugin, route, body):
    client = werkzeug_test.Client(plugin.get_plugin_apps()[route], Response)
    answer = client.post(route, data=json.dumps(body), content_type="application/json")
    if answer.status_code != 200:
        raise RuntimeError(route + ": " + answer.status + ": " + answer.get_data(as_text=True))
    return json.loads(answer.get_data(as_text=True))


def main(logdir):
    guidance = {kind: 0 for kind in (event_accumulator.SCALARS, event_accumulator.HISTOGRAMS,
                                     event_accumulator.IMAGES, event_accumulator.TENSORS)}
    multiplexer = plugin_event_multiplexer.EventMultiplexer(size_guidance=guidance)
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    found = {"runs": {}, "raw": [], "files": []}
    for run in sorted(multiplexer.Runs()):
        # The plugin multiplexer's own accumulators hold everything as tensors; the classic one
        # sorts values by kind, as the tests check them. Both read only the run's own directory.
        accumulator = event_accumulator.EventAccumulator(os.path.join(logdir, run), size_guidance=guidance)
        accumulator.Reload()
        found["runs"][run] = read_run(accumulator)

    context = base_plugin.TBContext(logdir=logdir, multiplexer=multiplexer,
                                    data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir))
    plugin = hparams_plugin.HParamsPlugin(context)
    found["experiment"] = hparams_request(plugin, "/experiment", {"experimentName": ""})
    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
    found["session_groups"] = hparams_request(plugin, "/session_groups", {
        "experimentName": "", "allowedStatuses": statuses, "colParams": [], "startIndex": 0, "sliceSize": 1000})

    for directory, _, names in sorted(os.walk(logdir)):
        for name in sorted(name for name in names if "tfevents" in name):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, logdir)
            framed_bytes = 0
            for record in event_file_loader.RawEventFileLoader(path).Load():
                framed_bytes += len(record) + 16
                event = event_pb2.Event.FromString(record)
                for value in event.summary.value:
                    found["raw"].append([relative, event.step, value.tag])
            found["files"].append([relative, framed_bytes == os.path.getsize(path)])
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
