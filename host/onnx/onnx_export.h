// The trained model as an ONNX file, for onnxruntime, TensorRT and the rest of the ONNX world,
// written through ONNX's own protobuf schema: the classes generated from onnx-ml.proto that Debian's
// libonnx-dev ships (the onnx_proto target).
//
// The graph is the model's NetworkSpec (host/model/network_spec.h), one node chain per layer, with
// the weights as initializers under their PyTorch names ("0.weight", "conv.weight" for the
// tutorial), stored as they are in the arenas; the tutorial's graph:
//
//   input (N,1,28,28) float32, pixels / 255
//   -> Conv(conv.weight (32,1,3,3), conv.bias; 3x3, stride 1, no padding) -> Relu
//   -> MaxPool(2x2, stride 2) -> Flatten(axis 1)            (N, 5408) in (channel, row, col) order
//   -> Gemm(fc1.weight (128,5408), fc1.bias, transB=1) -> Relu
//   -> Gemm(fc2.weight (10,128), fc2.bias, transB=1)       -> logits (N,10)
//
// Per layer: Conv2D -> Conv (the spec's strides and pads, TensorFlow's "same" split; no bias
// input without a bias) and its activation; MaxPooling2D/AveragePooling2D -> MaxPool/AveragePool
// (count_include_pad=0: padded positions are out of the average, as in Keras); Flatten ->
// Flatten(axis 1); Dense -> Gemm (transB=1) and its activation; BatchNormalization -> its
// inference form on the moving statistics (running_mean, running_var initializers); Dropout ->
// nothing (inference); Activation -> Relu/Tanh/Sigmoid (linear: nothing).
// Our flatten is NCHW's, which is ONNX's Flatten of an NCHW tensor, so a Dense weight after it
// needs no permutation; Gemm with transB=1 computes x @ W^T + b, PyTorch's Linear on (out, in)
// weights. The output is logits: softmax is in the training loss, not in the model (the README
// shows how to append a Softmax node); a spec read from a Keras model that ends in softmax also
// gets that node, output "probabilities". N is a symbolic dimension, so any batch size runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "host/model/network_spec.h"

namespace train_gpu {

constexpr int64_t kOnnxOpsetVersion = 17;  // the default domain's opset: Conv, MaxPool, Gemm, ... as of ONNX 1.12
constexpr int64_t kOnnxIrVersion = 8;      // the IR version that goes with opset 17
constexpr const char* kOnnxInputName = "input";
constexpr const char* kOnnxOutputName = "logits";
constexpr const char* kOnnxProbabilitiesName = "probabilities";  // only for a spec with softmax_output

// Where the weights came from, recorded as the model's metadata_props (train_gpu.*). Empty or
// negative fields are left out; text that is not valid UTF-8 (a file name can be any bytes) is
// written with U+FFFD in place of the invalid bytes, since ONNX strings are UTF-8.
struct OnnxProvenance {
  std::string checkpoint;  // file name
  std::string dataset;     // "mnist" | "fashion-mnist" | "" (a foreign state_dict)
  int64_t epoch = -1;
  int64_t step = -1;
};

// The serialized ModelProto of `spec` with `parameters` (spec.parameter_count floats) and
// `buffers` (spec.buffer_count floats; empty for a spec without BatchNormalization); another
// size is an Error.
std::string encode_onnx_model(const model::NetworkSpec& spec, const std::vector<float>& parameters,
                              const std::vector<float>& buffers, const OnnxProvenance& provenance);

// encode_onnx_model written to `file` atomically (a crash leaves the old file or the new one);
// returns the byte count. Errors name the file.
std::size_t write_onnx_model(const std::filesystem::path& file, const model::NetworkSpec& spec,
                             const std::vector<float>& parameters, const std::vector<float>& buffers,
                             const OnnxProvenance& provenance);

}  // namespace train_gpu
