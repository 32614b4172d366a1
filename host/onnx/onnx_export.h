// The trained model as an ONNX file, for onnxruntime, TensorRT and the rest of the ONNX world,
// written through ONNX's own protobuf schema: the classes generated from onnx-ml.proto that Debian's
// libonnx-dev ships (the onnx_proto target).
//
// The graph is the network of model_spec.h, operator for operator, with the weights as
// initializers under their PyTorch names (conv.weight, ...), stored as they are in the arena:
//
//   input (N,1,28,28) float32, pixels / 255
//   -> Conv(conv.weight (32,1,3,3), conv.bias; 3x3, stride 1, no padding) -> Relu
//   -> MaxPool(2x2, stride 2) -> Flatten(axis 1)            (N, 5408) in (channel, row, col) order
//   -> Gemm(fc1.weight (128,5408), fc1.bias, transB=1) -> Relu
//   -> Gemm(fc2.weight (10,128), fc2.bias, transB=1)       -> logits (N,10)
//
// Our flatten is NCHW's, which is ONNX's Flatten of an NCHW tensor, so fc1.weight needs no
// permutation; Gemm with transB=1 computes x @ W^T + b, PyTorch's Linear on (out, in) weights.
// The output is logits: softmax is in the training loss, not in the model (the README shows how
// to append a Softmax node). N is a symbolic dimension, so any batch size runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu {

constexpr int64_t kOnnxOpsetVersion = 17;  // the default domain's opset: Conv, MaxPool, Gemm, ... as of ONNX 1.12
constexpr int64_t kOnnxIrVersion = 8;      // the IR version that goes with opset 17
constexpr const char* kOnnxInputName = "input";
constexpr const char* kOnnxOutputName = "logits";

// Where the weights came from, recorded as the model's metadata_props (train_gpu.*). Empty or
// negative fields are left out; text that is not valid UTF-8 (a file name can be any bytes) is
// written with U+FFFD in place of the invalid bytes, since ONNX strings are UTF-8.
struct OnnxProvenance {
  std::string checkpoint;  // file name
  std::string dataset;     // "mnist" | "fashion-mnist" | "" (a foreign state_dict)
  int64_t epoch = -1;
  int64_t step = -1;
};

// The serialized ModelProto. `parameters` is the arena of model_spec.h (kParameterCount floats);
// another size is an Error.
std::string encode_onnx_model(const std::vector<float>& parameters, const OnnxProvenance& provenance);

// encode_onnx_model written to `file` atomically (a crash leaves the old file or the new one);
// returns the byte count. Errors name the file.
std::size_t write_onnx_model(const std::filesystem::path& file, const std::vector<float>& parameters,
                             const OnnxProvenance& provenance);

}  // namespace train_gpu
