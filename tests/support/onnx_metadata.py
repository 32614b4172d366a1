"""Prints an ONNX model's metadata as onnxruntime reads it: get_modelmeta().custom_metadata_map.

Usage: onnx_metadata.py MODEL.onnx

One line of JSON with ASCII escapes (so the C++ test compares bytes, whatever the locale).
get_modelmeta() raises where a metadata string is not valid UTF-8; the traceback and a non-zero
exit then reach the test (onnx_python_test.cpp).
"""

import json
import sys

import onnxruntime


def main():
    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    print(json.dumps(session.get_modelmeta().custom_metadata_map, sort_keys=True))


if __name__ == "__main__":
    main()
