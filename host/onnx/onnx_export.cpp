#include "host/onnx/onnx_export.h"

#include <initializer_list>

#include <onnx/onnx_pb.h>  // Debian's libonnx-dev: the classes generated from ONNX's onnx-ml.proto

#include "build_info.h"
#include "host/common/error.h"
#include "host/common/utf8.h"
#include "host/train/atomic_file.h"

// raw_data is little-endian by the ONNX spec; we copy the arena's bytes as they lie in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ONNX raw_data is little-endian; port the byte order");

namespace train_gpu {

namespace {

using model::Activation;
using model::ArenaTensor;
using model::LayerKind;
using model::LayerSpec;
using model::NetworkSpec;

void add_initializer(onnx::GraphProto& graph, const ArenaTensor& spec, const std::vector<float>& arena) {
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(spec.name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (const int64_t dim : spec.shape) tensor->add_dims(dim);
  tensor->set_raw_data(arena.data() + spec.offset, spec.count * sizeof(float));
}

// A float32 tensor value whose dimensions are numbers or, for a negative entry, the symbolic batch "N".
void set_float_tensor_type(onnx::ValueInfoProto& value, const std::string& name, std::initializer_list<int64_t> dims) {
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

void add_float(onnx::NodeProto& node, const char* name, float value) {
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(value);
}

// ONNX strings are UTF-8 and readers decode them so (onnxruntime's get_modelmeta() fails on a
// file name of Latin-1 bytes): invalid bytes become U+FFFD.
void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(to_valid_utf8(value));
}

// The graph's node chain, one value flowing from node to node: each node reads the value the one
// before wrote ("<node>_out") and the final value is renamed `kOnnxOutputName`. `flat` follows
// whether the value is (N, features) or still (N, C, H, W), since a spec's flat activation is
// (features, 1, 1) but Gemm needs a matrix.
class NodeChain {
 public:
  NodeChain(onnx::GraphProto& graph, bool input_flat) : graph_(graph), value_(kOnnxInputName), flat_(input_flat) {}

  onnx::NodeProto& add(const char* op_type, const std::string& name, std::initializer_list<std::string> weights) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(op_type);
    node->set_name(name);
    node->add_input(value_);
    for (const std::string& weight : weights) node->add_input(weight);
    value_ = name + "_out";
    node->add_output(value_);
    return *node;
  }

  void flatten(const std::string& name) {
    add_int(add("Flatten", name, {}), "axis", 1);
    flat_ = true;
  }
  bool flat() const { return flat_; }

  // The last node's value becomes the graph's output; a spec whose layers write no node (a
  // Dropout alone on a flat input) gets a Flatten, which is also what makes (N,K,1,1) (N,K).
  void finish() {
    if (graph_.node_size() == 0 || !flat_) flatten("output_flatten");
    graph_.mutable_node(graph_.node_size() - 1)->set_output(0, kOnnxOutputName);
  }

 private:
  onnx::GraphProto& graph_;
  std::string value_;
  bool flat_;
};

// Relu/Tanh/Sigmoid after a layer; linear adds nothing, and softmax (only ever the last
// activation) is folded into the loss: the graph's output stays the logits.
void add_activation(NodeChain& chain, Activation activation, const std::string& layer_name) {
  switch (activation) {
    case Activation::kRelu: chain.add("Relu", layer_name + "_relu", {}); break;
    case Activation::kTanh: chain.add("Tanh", layer_name + "_tanh", {}); break;
    case Activation::kSigmoid: chain.add("Sigmoid", layer_name + "_sigmoid", {}); break;
    case Activation::kLinear:
    case Activation::kSoftmax: break;
  }
}

std::string tensor_name(const NetworkSpec& spec, const LayerSpec& layer, int k) {
  return spec.parameters[std::size_t(layer.first_parameter + k)].name;
}

void add_window(onnx::NodeProto& node, const LayerSpec& layer) {
  add_ints(node, "kernel_shape", {layer.kernel_h, layer.kernel_w});
  add_ints(node, "strides", {layer.stride_h, layer.stride_w});
  // ONNX's order: (top, left, bottom, right), TensorFlow's "same" split included.
  add_ints(node, "pads", {layer.pad_top, layer.pad_left, layer.pad_bottom, layer.pad_right});
}

// The nodes of one layer. `name` is the node name: the tutorial keeps the names its graph had
// before specs existed, every other spec uses Keras's layer names (unique by construction).
void add_layer(NodeChain& chain, const NetworkSpec& spec, const LayerSpec& layer, const std::string& name) {
  switch (layer.kind) {
    case LayerKind::kConv2D: {
      onnx::NodeProto& conv = layer.use_bias ? chain.add("Conv", name, {tensor_name(spec, layer, 0), tensor_name(spec, layer, 1)})
                                             : chain.add("Conv", name, {tensor_name(spec, layer, 0)});
      add_window(conv, layer);
      add_ints(conv, "dilations", {1, 1});
      add_int(conv, "group", 1);
      add_activation(chain, layer.activation, name);
      break;
    }
    case LayerKind::kMaxPool2D: add_window(chain.add("MaxPool", name, {}), layer); break;
    case LayerKind::kAvgPool2D: {
      onnx::NodeProto& pool = chain.add("AveragePool", name, {});
      add_window(pool, layer);
      // Padded positions are left out of each window's count, as Keras (tf.nn.avg_pool) does.
      add_int(pool, "count_include_pad", 0);
      break;
    }
    case LayerKind::kFlatten: chain.flatten(name); break;
    case LayerKind::kDense: {
      if (!chain.flat()) chain.flatten(name + "_flatten");  // a (K,1,1) input that no Flatten layer made 2-D
      // transB = 1: x @ W^T + b with W in PyTorch's (out, in) layout.
      onnx::NodeProto& gemm = layer.use_bias ? chain.add("Gemm", name, {tensor_name(spec, layer, 0), tensor_name(spec, layer, 1)})
                                             : chain.add("Gemm", name, {tensor_name(spec, layer, 0)});
      add_int(gemm, "transB", 1);
      add_activation(chain, layer.activation, name);
      break;
    }
    case LayerKind::kDropout: break;  // inference: the identity
    case LayerKind::kBatchNorm: {
      // Inference form: (x - running_mean) / sqrt(running_var + epsilon) * weight + bias.
      const ArenaTensor& mean = spec.buffers[std::size_t(layer.first_buffer)];
      const ArenaTensor& variance = spec.buffers[std::size_t(layer.first_buffer + 1)];
      onnx::NodeProto& norm = chain.add("BatchNormalization", name,
                                        {tensor_name(spec, layer, 0), tensor_name(spec, layer, 1), mean.name, variance.name});
      add_float(norm, "epsilon", layer.epsilon);
      break;
    }
    case LayerKind::kActivation: add_activation(chain, layer.activation, name); break;
  }
}

std::string node_name(const NetworkSpec& spec, std::size_t layer) {
  static const char* const kTutorialNames[] = {"conv", "pool", "flatten", "fc1", "fc2"};
  return spec.is_tutorial() ? kTutorialNames[layer] : spec.layers[layer].name;
}

void check_arena(const char* what, const std::vector<float>& arena, std::size_t expected) {
  if (arena.size() != expected) {
    throw Error(std::string("onnx export: ") + std::to_string(arena.size()) + " " + what + ", expected " +
                std::to_string(expected));
  }
}

}  // namespace

std::string encode_onnx_model(const model::NetworkSpec& spec, const std::vector<float>& parameters,
                              const std::vector<float>& buffers, const OnnxProvenance& provenance) {
  check_arena("parameters", parameters, spec.parameter_count);
  check_arena("buffer values (BatchNormalization moving statistics)", buffers, spec.buffer_count);
  const bool tutorial = spec.is_tutorial();
  const model::Shape& input = spec.input;
  onnx::ModelProto model;
  model.set_ir_version(kOnnxIrVersion);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");  // the default ONNX operator set
  opset->set_version(kOnnxOpsetVersion);
  model.set_producer_name("train_gpu");
  model.set_producer_version(TRAIN_GPU_VERSION);
  const std::string input_text = "(N," + std::to_string(input.channels) + "," + std::to_string(input.height) + "," +
                                 std::to_string(input.width) + ")";
  const std::string outputs_text =
      "Output: (N," + std::to_string(spec.classes()) + ") logits; softmax over axis 1 gives the class probabilities" +
      (spec.softmax_output ? std::string(" (output '") + kOnnxProbabilitiesName + "')." : std::string("."));
  model.set_doc_string(
      tutorial ? "The TensorFlow 2 MNIST tutorial's CNN, trained by train_gpu (" + spec.description() +
                     "). Input: (N,1,28,28) float32 pixels scaled to [0,1] (byte / 255), white digit on black as in MNIST. " +
                     outputs_text
               : "A sequential CNN trained by train_gpu (" + spec.description() + "). Input: " + input_text +
                     " float32 pixels scaled to [0,1] (byte / 255), channels first. " + outputs_text);
  add_metadata(model, "train_gpu.checkpoint", provenance.checkpoint);
  add_metadata(model, "train_gpu.dataset", provenance.dataset);
  add_metadata(model, "train_gpu.epoch", provenance.epoch >= 0 ? std::to_string(provenance.epoch) : "");
  add_metadata(model, "train_gpu.step", provenance.step >= 0 ? std::to_string(provenance.step) : "");

  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name(tutorial ? "train_gpu_mnist_cnn" : "train_gpu_sequential_cnn");
  set_float_tensor_type(*graph.add_input(), kOnnxInputName, {-1, input.channels, input.height, input.width});
  set_float_tensor_type(*graph.add_output(), kOnnxOutputName, {-1, spec.classes()});
  for (const ArenaTensor& tensor : spec.parameters) add_initializer(graph, tensor, parameters);
  for (const ArenaTensor& tensor : spec.buffers) add_initializer(graph, tensor, buffers);

  // An input of (C,1,1) is already a vector in the spec's terms, but ONNX sees it 4-D.
  NodeChain chain(graph, false);
  for (std::size_t i = 0; i < spec.layers.size(); ++i) add_layer(chain, spec, spec.layers[i], node_name(spec, i));
  chain.finish();
  if (spec.softmax_output) {
    // The Keras model the spec came from ends in softmax: its output, beside the logits.
    onnx::NodeProto* softmax = graph.add_node();
    softmax->set_op_type("Softmax");
    softmax->set_name("softmax");
    softmax->add_input(kOnnxOutputName);
    softmax->add_output(kOnnxProbabilitiesName);
    add_int(*softmax, "axis", 1);
    set_float_tensor_type(*graph.add_output(), kOnnxProbabilitiesName, {-1, spec.classes()});
  }

  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("onnx export: protobuf could not serialize the model");
  return bytes;
}

std::size_t write_onnx_model(const std::filesystem::path& file, const model::NetworkSpec& spec,
                             const std::vector<float>& parameters, const std::vector<float>& buffers,
                             const OnnxProvenance& provenance) {
  const std::string bytes = encode_onnx_model(spec, parameters, buffers, provenance);
  write_file_atomically(file, bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace train_gpu
