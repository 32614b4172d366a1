#include "host/onnx/onnx_export.h"

#include <cstring>
#include <initializer_list>

#include <onnx/onnx_pb.h>  // Debian's libonnx-dev: the classes generated from ONNX's onnx-ml.proto

#include "build_info.h"
#include "host/common/error.h"
#include "host/common/utf8.h"
#include "host/model/model_spec.h"
#include "host/train/atomic_file.h"

// raw_data is little-endian by the ONNX spec; we copy the arena's bytes as they lie in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ONNX raw_data is little-endian; port the byte order");

namespace train_gpu {

namespace {

using model::TensorSpec;

const TensorSpec& tensor_spec(const char* name) {
  for (const TensorSpec& spec : model::kParameterTensors) {
    if (std::strcmp(spec.name, name) == 0) return spec;
  }
  throw Error(std::string("onnx export: no parameter tensor '") + name + "'");
}

void add_initializer(onnx::GraphProto& graph, const std::vector<float>& parameters, const char* name) {
  const TensorSpec& spec = tensor_spec(name);
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(spec.name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int d = 0; d < spec.rank; ++d) tensor->add_dims(spec.shape[d]);
  tensor->set_raw_data(parameters.data() + spec.offset, spec.count * sizeof(float));
}

// A float32 tensor value whose dimensions are numbers or, for a negative entry, the symbolic batch "N".
void set_float_tensor_type(onnx::ValueInfoProto& value, const char* name, std::initializer_list<int64_t> dims) {
  value.set_name(name);
  onnx::TypeProto_Tensor* tensor_type = value.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx::TensorProto::FLOAT);
  for (const int64_t dim : dims) {
    onnx::TensorShapeProto_Dimension* dimension = tensor_type->mutable_shape()->add_dim();
    if (dim < 0) {
      dimension->set_dim_param("N");
    } else {
      dimension->set_dim_value(dim);
    }
  }
}

onnx::NodeProto& add_node(onnx::GraphProto& graph, const char* op_type, const char* name,
                          std::initializer_list<const char*> inputs, const char* output) {
  onnx::NodeProto* node = graph.add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const char* input : inputs) node->add_input(input);
  node->add_output(output);
  return *node;
}

void add_ints(onnx::NodeProto& node, const char* name, std::initializer_list<int64_t> values) {
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (const int64_t value : values) attribute->add_ints(value);
}

void add_int(onnx::NodeProto& node, const char* name, int64_t value) {
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

// ONNX strings are UTF-8 and readers decode them so (onnxruntime's get_modelmeta() fails on a
// file name of Latin-1 bytes): invalid bytes become U+FFFD.
void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(to_valid_utf8(value));
}

}  // namespace

std::string encode_onnx_model(const std::vector<float>& parameters, const OnnxProvenance& provenance) {
  if (parameters.size() != model::kParameterCount) {
    throw Error("onnx export: " + std::to_string(parameters.size()) + " parameters, expected " +
                std::to_string(model::kParameterCount));
  }
  onnx::ModelProto model;
  model.set_ir_version(kOnnxIrVersion);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");  // the default ONNX operator set
  opset->set_version(kOnnxOpsetVersion);
  model.set_producer_name("train_gpu");
  model.set_producer_version(TRAIN_GPU_VERSION);
  model.set_doc_string(
      std::string("The TensorFlow 2 MNIST tutorial's CNN, trained by train_gpu (") + model::kModelDescription +
      "). Input: (N,1,28,28) float32 pixels scaled to [0,1] (byte / 255), white digit on black as in MNIST. "
      "Output: (N,10) logits; softmax over axis 1 gives the class probabilities.");
  add_metadata(model, "train_gpu.checkpoint", provenance.checkpoint);
  add_metadata(model, "train_gpu.dataset", provenance.dataset);
  add_metadata(model, "train_gpu.epoch", provenance.epoch >= 0 ? std::to_string(provenance.epoch) : "");
  add_metadata(model, "train_gpu.step", provenance.step >= 0 ? std::to_string(provenance.step) : "");

  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("train_gpu_mnist_cnn");
  set_float_tensor_type(*graph.add_input(), kOnnxInputName, {-1, 1, model::kImageSide, model::kImageSide});
  set_float_tensor_type(*graph.add_output(), kOnnxOutputName, {-1, model::kClasses});
  for (const TensorSpec& spec : model::kParameterTensors) add_initializer(graph, parameters, spec.name);

  onnx::NodeProto& conv = add_node(graph, "Conv", "conv", {kOnnxInputName, "conv.weight", "conv.bias"}, "conv_out");
  add_ints(conv, "kernel_shape", {model::kConvKernel, model::kConvKernel});
  add_ints(conv, "strides", {1, 1});
  add_ints(conv, "pads", {0, 0, 0, 0});
  add_ints(conv, "dilations", {1, 1});
  add_int(conv, "group", 1);
  add_node(graph, "Relu", "conv_relu", {"conv_out"}, "conv_relu_out");
  onnx::NodeProto& pool = add_node(graph, "MaxPool", "pool", {"conv_relu_out"}, "pool_out");
  add_ints(pool, "kernel_shape", {2, 2});
  add_ints(pool, "strides", {2, 2});
  add_ints(pool, "pads", {0, 0, 0, 0});
  add_int(add_node(graph, "Flatten", "flatten", {"pool_out"}, "flatten_out"), "axis", 1);
  onnx::NodeProto& fc1 = add_node(graph, "Gemm", "fc1", {"flatten_out", "fc1.weight", "fc1.bias"}, "fc1_out");
  add_int(fc1, "transB", 1);
  add_node(graph, "Relu", "fc1_relu", {"fc1_out"}, "fc1_relu_out");
  onnx::NodeProto& fc2 = add_node(graph, "Gemm", "fc2", {"fc1_relu_out", "fc2.weight", "fc2.bias"}, kOnnxOutputName);
  add_int(fc2, "transB", 1);

  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("onnx export: protobuf could not serialize the model");
  return bytes;
}

std::size_t write_onnx_model(const std::filesystem::path& file, const std::vector<float>& parameters,
                             const OnnxProvenance& provenance) {
  const std::string bytes = encode_onnx_model(parameters, provenance);
  write_file_atomically(file, bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace train_gpu
