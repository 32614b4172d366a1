// The ONNX exporter (host/onnx/onnx_export.h), read back with ONNX's own classes (Debian's
// libonnx-dev): every model written here passes ONNX's C++ checker and its strict shape
// inference; versions, the graph's inputs and outputs, every node with its attributes in order
// and wired to the one before, the weights bit for bit under their PyTorch names; and
// `train_gpu export` as a user runs it. onnx_python_test.cpp runs the file in onnxruntime.
#include "host/onnx/onnx_export.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "support/example_networks.h"
#include "support/random_model.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

// ONNX's full check, as onnx.checker.check_model(model, full_check=True) runs it in Python: the
// model's structure (IR version rules, every node against its opset-17 schema, initializers, names
// defined before use), then shape inference in strict mode (error_mode 1: a node whose shapes do
// not fit throws; check_type: inferred types must equal the declared ones). Returns the model with
// the inferred shapes of the intermediate values in graph.value_info; throws
// onnx::checker::ValidationError or onnx::InferenceError (std::runtime_error both).
onnx::ModelProto checked_and_inferred(onnx::ModelProto model) {
  onnx::checker::check_model(model);
  onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(/*check_type_val=*/true, /*strict_mode_val=*/1));
  return model;
}

// What ONNX's checker says about a model: "" when it passes.
std::string checker_error(const onnx::ModelProto& model) {
  try {
    checked_and_inferred(model);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Every model these tests read is put through ONNX's checker on the way in.
onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes)) << "not a ModelProto";
  EXPECT_EQ(checker_error(model), "") << "ONNX's checker refuses the exported model";
  return model;
}

std::vector<int64_t> dims_of(const onnx::ValueInfoProto& value, std::vector<std::string>* params) {
  std::vector<int64_t> dims;
  for (const onnx::TensorShapeProto_Dimension& dim : value.type().tensor_type().shape().dim()) {
    dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    params->push_back(dim.has_dim_param() ? dim.dim_param() : "");
  }
  return dims;
}

// An attribute as text ("INT 1", "INTS 3 3"), to compare whole nodes at a glance.
std::string attribute_text(const onnx::AttributeProto& attribute) {
  std::string text;
  if (attribute.type() == onnx::AttributeProto::INT) {
    text = "INT " + std::to_string(attribute.i());
  } else if (attribute.type() == onnx::AttributeProto::INTS) {
    text = "INTS";
    for (const int64_t value : attribute.ints()) text += " " + std::to_string(value);
  } else if (attribute.type() == onnx::AttributeProto::FLOAT) {
    text = "FLOAT " + std::to_string(attribute.f());
  } else {
    text = "type " + std::to_string(attribute.type());
  }
  return text;
}

// The tutorial's network, which has no buffers.
std::string tutorial_onnx(const std::vector<float>& parameters, const OnnxProvenance& provenance) {
  return encode_onnx_model(model::tutorial_network(), parameters, {}, provenance);
}

struct ExpectedNode {
  std::string op_type;
  std::vector<std::string> inputs;
  std::string output;
  std::map<std::string, std::string> attributes;
};

TEST(OnnxExport, ModelDeclaresOpset17AndADynamicBatch) {
  const onnx::ModelProto model = parse(tutorial_onnx(t::random_parameters(1), {}));
  EXPECT_EQ(model.ir_version(), 8);
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).domain(), "");
  EXPECT_EQ(model.opset_import(0).version(), 17);
  EXPECT_EQ(model.producer_name(), "train_gpu");
  t::expect_contains(model.doc_string(), "softmax");

  const onnx::GraphProto& graph = model.graph();
  ASSERT_EQ(graph.input_size(), 1) << "initializers must not be listed as inputs (IR >= 4)";
  ASSERT_EQ(graph.output_size(), 1);
  EXPECT_EQ(graph.input(0).name(), "input");
  EXPECT_EQ(graph.input(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
  std::vector<std::string> params;
  EXPECT_EQ(dims_of(graph.input(0), &params), (std::vector<int64_t>{-1, 1, 28, 28}));
  EXPECT_EQ(params[0], "N");
  params.clear();
  EXPECT_EQ(graph.output(0).name(), "logits");
  EXPECT_EQ(graph.output(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(dims_of(graph.output(0), &params), (std::vector<int64_t>{-1, 10}));
  EXPECT_EQ(params[0], "N") << "input and output must share the batch dimension's name";
}

// The shapes ONNX infers through the graph are the network's, and the checker is no rubber
// stamp: a declared output shape the graph does not produce, a missing weight and a misspelt
// operator are each refused.
TEST(OnnxExport, OnnxShapeInferenceFindsTheNetworksShapes) {
  const onnx::ModelProto model = parse(tutorial_onnx(t::random_parameters(7), {}));
  const onnx::ModelProto inferred = checked_and_inferred(model);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const onnx::ValueInfoProto& value : inferred.graph().value_info()) {
    std::vector<std::string> params;
    shapes[value.name()] = dims_of(value, &params);
    EXPECT_EQ(params.at(0), "N") << value.name() << ": the batch stays symbolic";
  }
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"conv_out", {-1, 32, 26, 26}}, {"conv_relu_out", {-1, 32, 26, 26}}, {"pool_out", {-1, 32, 13, 13}},
      {"flatten_out", {-1, 5408}},    {"fc1_out", {-1, 128}},              {"fc1_relu_out", {-1, 128}}};
  EXPECT_EQ(shapes, expected);

  onnx::ModelProto wrong_output = model;
  wrong_output.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(11);
  EXPECT_NE(checker_error(wrong_output), "") << "strict shape inference must see (N,10) meet a declared (N,11)";
  onnx::ModelProto missing_weight = model;
  missing_weight.mutable_graph()->mutable_initializer()->RemoveLast();  // fc2.bias
  t::expect_contains(checker_error(missing_weight), "fc2.bias");
  onnx::ModelProto unknown_op = model;
  unknown_op.mutable_graph()->mutable_node(1)->set_op_type("Rleu");
  t::expect_contains(checker_error(unknown_op), "Rleu");
}

// Every node of `graph` in order: operator, inputs, its one output and its attributes.
void expect_nodes(const onnx::GraphProto& graph, const std::vector<ExpectedNode>& expected) {
  ASSERT_EQ(graph.node_size(), static_cast<int>(expected.size()));
  std::set<std::string> names;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    const ExpectedNode& want = expected[static_cast<size_t>(i)];
    EXPECT_EQ(node.op_type(), want.op_type) << "node " << i;
    EXPECT_EQ(node.domain(), "") << "node " << i;
    EXPECT_TRUE(names.insert(node.name()).second) << "node names must be unique: " << node.name();
    EXPECT_EQ(std::vector<std::string>(node.input().begin(), node.input().end()), want.inputs) << "node " << i;
    ASSERT_EQ(node.output_size(), 1) << "node " << i;
    EXPECT_EQ(node.output(0), want.output) << "node " << i;
    std::map<std::string, std::string> attributes;
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      EXPECT_TRUE(attributes.emplace(attribute.name(), attribute_text(attribute)).second) << "repeated " << attribute.name();
    }
    EXPECT_EQ(attributes, want.attributes) << "node " << i << " (" << node.op_type() << ")";
  }
}

TEST(OnnxExport, GraphIsConvReluPoolFlattenGemmReluGemm) {
  const onnx::GraphProto graph = parse(tutorial_onnx(t::random_parameters(2), {})).graph();
  const std::vector<ExpectedNode> expected = {
      {"Conv", {"input", "conv.weight", "conv.bias"}, "conv_out",
       {{"kernel_shape", "INTS 3 3"}, {"strides", "INTS 1 1"}, {"pads", "INTS 0 0 0 0"}, {"dilations", "INTS 1 1"}, {"group", "INT 1"}}},
      {"Relu", {"conv_out"}, "conv_relu_out", {}},
      {"MaxPool", {"conv_relu_out"}, "pool_out", {{"kernel_shape", "INTS 2 2"}, {"strides", "INTS 2 2"}, {"pads", "INTS 0 0 0 0"}}},
      {"Flatten", {"pool_out"}, "flatten_out", {{"axis", "INT 1"}}},
      // transB = 1: x @ W^T + b with W in PyTorch's (out, in) layout; transA stays 0.
      {"Gemm", {"flatten_out", "fc1.weight", "fc1.bias"}, "fc1_out", {{"transB", "INT 1"}}},
      {"Relu", {"fc1_out"}, "fc1_relu_out", {}},
      {"Gemm", {"fc1_relu_out", "fc2.weight", "fc2.bias"}, "logits", {{"transB", "INT 1"}}},
  };
  expect_nodes(graph, expected);
}

TEST(OnnxExport, InitializersAreTheArenaBitForBit) {
  const std::vector<float> parameters = t::random_parameters(3);
  const onnx::GraphProto graph = parse(tutorial_onnx(parameters, {})).graph();
  ASSERT_EQ(graph.initializer_size(), model::kTensorCount);
  for (int i = 0; i < model::kTensorCount; ++i) {
    const model::TensorSpec& spec = model::kParameterTensors[i];
    const onnx::TensorProto& tensor = graph.initializer(i);
    EXPECT_EQ(tensor.name(), spec.name);
    EXPECT_EQ(tensor.data_type(), onnx::TensorProto::FLOAT) << spec.name;
    EXPECT_EQ(std::vector<int64_t>(tensor.dims().begin(), tensor.dims().end()),
              std::vector<int64_t>(spec.shape, spec.shape + spec.rank))
        << spec.name;
    EXPECT_EQ(tensor.float_data_size(), 0) << "one encoding only: raw_data";
    ASSERT_EQ(tensor.raw_data().size(), spec.count * sizeof(float)) << spec.name;
    EXPECT_EQ(std::memcmp(tensor.raw_data().data(), parameters.data() + spec.offset, spec.count * sizeof(float)), 0)
        << spec.name;
  }
}

// The tutorial's file is what it was before specs existed: the same graph name and doc string
// (the nodes and initializers are pinned by the tests above), and no probabilities output.
TEST(OnnxExport, TutorialKeepsItsNamesAndDocString) {
  const onnx::ModelProto model = parse(tutorial_onnx(t::random_parameters(2), {}));
  EXPECT_EQ(model.graph().name(), "train_gpu_mnist_cnn");
  EXPECT_EQ(model.doc_string(),
            std::string("The TensorFlow 2 MNIST tutorial's CNN, trained by train_gpu (") + model::kModelDescription +
                "). Input: (N,1,28,28) float32 pixels scaled to [0,1] (byte / 255), white digit on black as in MNIST. "
                "Output: (N,10) logits; softmax over axis 1 gives the class probabilities.");
  EXPECT_EQ(model.graph().output_size(), 1);
}

// Any spec: every tensor of both arenas an initializer, bit for bit under its name, the graph
// through ONNX's checker with the spec's shapes, and "probabilities" beside "logits" for a
// Keras model that ends in softmax.
TEST(OnnxExport, EverySpecsArenasAreInitializersAndItsShapesAreInferred) {
  for (const model::NetworkSpec& spec : {t::simple_mnist_convnet(), t::cifar_batchnorm_network()}) {
    SCOPED_TRACE(spec.description());
    const std::vector<float> parameters = t::random_parameter_arena(spec, 21);
    const std::vector<float> buffers = t::random_buffer_arena(spec, 22);
    const onnx::ModelProto model = parse(encode_onnx_model(spec, parameters, buffers, {}));
    const onnx::GraphProto& graph = model.graph();
    EXPECT_EQ(graph.name(), "train_gpu_sequential_cnn");
    t::expect_contains(model.doc_string(), spec.description());
    std::vector<std::string> params;
    EXPECT_EQ(dims_of(graph.input(0), &params),
              (std::vector<int64_t>{-1, spec.input.channels, spec.input.height, spec.input.width}));
    ASSERT_EQ(graph.output_size(), 2);
    EXPECT_EQ(graph.output(0).name(), "logits");
    EXPECT_EQ(graph.output(1).name(), "probabilities");
    EXPECT_EQ(dims_of(graph.output(1), &params), (std::vector<int64_t>{-1, 10}));

    ASSERT_EQ(std::size_t(graph.initializer_size()), spec.parameters.size() + spec.buffers.size());
    for (int i = 0; i < graph.initializer_size(); ++i) {
      const bool buffer = std::size_t(i) >= spec.parameters.size();
      const model::ArenaTensor& tensor = buffer ? spec.buffers[std::size_t(i) - spec.parameters.size()] : spec.parameters[std::size_t(i)];
      const std::vector<float>& arena = buffer ? buffers : parameters;
      const onnx::TensorProto& initializer = graph.initializer(i);
      EXPECT_EQ(initializer.name(), tensor.name);
      EXPECT_EQ(std::vector<int64_t>(initializer.dims().begin(), initializer.dims().end()), tensor.shape) << tensor.name;
      ASSERT_EQ(initializer.raw_data().size(), tensor.count * sizeof(float)) << tensor.name;
      EXPECT_EQ(std::memcmp(initializer.raw_data().data(), arena.data() + tensor.offset, tensor.count * sizeof(float)), 0)
          << tensor.name;
    }

    // ONNX's shape inference reaches each layer's output shape (flat ones as (N, features)).
    std::map<std::string, std::vector<int64_t>> shapes;
    const onnx::ModelProto inferred = checked_and_inferred(model);
    for (const onnx::ValueInfoProto& value : inferred.graph().value_info()) {
      shapes[value.name()] = dims_of(value, &params);
    }
    for (const model::LayerSpec& layer : spec.layers) {
      if (layer.kind == model::LayerKind::kDropout || layer.activation != model::Activation::kLinear) continue;
      if (&layer == &spec.layers.back()) continue;  // its value is "logits"
      const std::vector<int64_t> expected = layer.output.flat() ? std::vector<int64_t>{-1, layer.output.channels}
                                                                : std::vector<int64_t>{-1, layer.output.channels,
                                                                                       layer.output.height, layer.output.width};
      EXPECT_EQ(shapes[layer.name + "_out"], expected) << layer.name;
    }
  }
}

// The CIFAR-shaped spec node for node: no bias input for a bias-free Conv2D, TensorFlow's
// asymmetric same padding (the odd one bottom/right), average pooling without the padded
// positions, BatchNormalization on the moving statistics, Dropout gone.
TEST(OnnxExport, CifarSpecGraphIsItsLayersNodeForNode) {
  const model::NetworkSpec spec = t::cifar_batchnorm_network();
  const onnx::GraphProto graph =
      parse(encode_onnx_model(spec, t::random_parameter_arena(spec, 1), t::random_buffer_arena(spec, 2), {})).graph();
  const std::string eps = "FLOAT " + std::to_string(1e-3f);
  const std::vector<ExpectedNode> expected = {
      {"Conv", {"input", "0.weight"}, "conv2d_2_out",
       {{"kernel_shape", "INTS 3 3"}, {"strides", "INTS 1 1"}, {"pads", "INTS 1 1 1 1"}, {"dilations", "INTS 1 1"}, {"group", "INT 1"}}},
      {"BatchNormalization", {"conv2d_2_out", "1.weight", "1.bias", "1.running_mean", "1.running_var"},
       "batch_normalization_out", {{"epsilon", eps}}},
      {"Relu", {"batch_normalization_out"}, "activation_relu_out", {}},
      {"Conv", {"activation_relu_out", "3.weight", "3.bias"}, "conv2d_3_out",
       {{"kernel_shape", "INTS 3 3"}, {"strides", "INTS 2 2"}, {"pads", "INTS 0 0 1 1"}, {"dilations", "INTS 1 1"}, {"group", "INT 1"}}},
      {"Relu", {"conv2d_3_out"}, "conv2d_3_relu_out", {}},
      {"AveragePool", {"conv2d_3_relu_out"}, "average_pooling2d_out",
       {{"kernel_shape", "INTS 3 3"}, {"strides", "INTS 2 2"}, {"pads", "INTS 0 0 1 1"}, {"count_include_pad", "INT 0"}}},
      {"MaxPool", {"average_pooling2d_out"}, "max_pooling2d_2_out",
       {{"kernel_shape", "INTS 2 2"}, {"strides", "INTS 2 2"}, {"pads", "INTS 0 0 0 0"}}},
      {"Flatten", {"max_pooling2d_2_out"}, "flatten_1_out", {{"axis", "INT 1"}}},
      {"Gemm", {"flatten_1_out", "9.weight", "9.bias"}, "dense_1_out", {{"transB", "INT 1"}}},
      {"Tanh", {"dense_1_out"}, "dense_1_tanh_out", {}},
      {"BatchNormalization", {"dense_1_tanh_out", "11.weight", "11.bias", "11.running_mean", "11.running_var"},
       "batch_normalization_1_out", {{"epsilon", eps}}},
      {"Sigmoid", {"batch_normalization_1_out"}, "activation_1_sigmoid_out", {}},
      {"Gemm", {"activation_1_sigmoid_out", "14.weight", "14.bias"}, "logits", {{"transB", "INT 1"}}},
      {"Softmax", {"logits"}, "probabilities", {{"axis", "INT 1"}}},
  };
  expect_nodes(graph, expected);
}

// A spec whose input is already a vector (features x 1 x 1) and that has no Flatten: ONNX still
// gets the (N, features) matrix Gemm needs.
TEST(OnnxExport, AFlatInputIsFlattenedBeforeItsDense) {
  const model::NetworkSpec spec = model::build_network(
      {8, 1, 1}, {t::dense_layer("hidden", 4, model::Activation::kRelu), t::dense_layer("out", 3, model::Activation::kLinear)});
  const onnx::ModelProto model = parse(encode_onnx_model(spec, t::random_parameter_arena(spec, 3), {}, {}));
  ASSERT_EQ(model.graph().node_size(), 4);
  EXPECT_EQ(model.graph().node(0).op_type(), "Flatten");
  EXPECT_EQ(model.graph().output_size(), 1) << "a linear last layer: logits only";
}

TEST(OnnxExport, ArenasOfAnotherSizeAreRefused) {
  const model::NetworkSpec spec = t::cifar_batchnorm_network();
  const std::vector<float> parameters = t::random_parameter_arena(spec, 4);
  std::vector<float> buffers = t::random_buffer_arena(spec, 5);
  buffers.pop_back();
  t::expect_contains(t::error_of([&] { encode_onnx_model(spec, parameters, buffers, {}); }),
                     std::to_string(spec.buffer_count - 1) + " buffer values (BatchNormalization moving statistics), expected " +
                         std::to_string(spec.buffer_count));
  t::expect_contains(t::error_of([&] { encode_onnx_model(spec, t::random_parameters(1), t::random_buffer_arena(spec, 5), {}); }),
                     "693962 parameters, expected " + std::to_string(spec.parameter_count));
}

TEST(OnnxExport, ProvenanceBecomesMetadataAndWrongSizesAreRefused) {
  const onnx::ModelProto model = parse(tutorial_onnx(t::random_parameters(4), {"epoch-003.safetensors", "mnist", 3, 2814}));
  std::map<std::string, std::string> metadata;
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) metadata[entry.key()] = entry.value();
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"train_gpu.checkpoint", "epoch-003.safetensors"},
                                                          {"train_gpu.dataset", "mnist"},
                                                          {"train_gpu.epoch", "3"},
                                                          {"train_gpu.step", "2814"}}));
  // A foreign state_dict knows none of these: nothing is invented.
  EXPECT_EQ(parse(tutorial_onnx(t::random_parameters(4), {})).metadata_props_size(), 0);

  std::vector<float> short_arena = t::random_parameters(4);
  short_arena.pop_back();
  t::expect_contains(t::error_of([&] { tutorial_onnx(short_arena, {}); }), "693961 parameters, expected 693962");
}

// A Linux file name is any bytes; ONNX strings are UTF-8, and onnxruntime's get_modelmeta() fails
// to decode anything else (onnx_python_test.cpp runs it). Invalid bytes become U+FFFD; valid
// UTF-8 stays as it is.
TEST(OnnxExport, MetadataIsValidUtf8WhateverTheFileNameBytes) {
  const auto checkpoint_metadata = [](const std::string& file_name) {
    const onnx::ModelProto model = parse(tutorial_onnx(t::random_parameters(8), {file_name, "mnist", 1, 938}));
    for (const onnx::StringStringEntryProto& entry : model.metadata_props()) {
      if (entry.key() == "train_gpu.checkpoint") return entry.value();
    }
    return std::string("(no train_gpu.checkpoint)");
  };
  EXPECT_EQ(checkpoint_metadata("epoch-\xE9t\xE9.safetensors"), "epoch-\xEF\xBF\xBDt\xEF\xBF\xBD.safetensors")
      << "Latin-1 bytes: each becomes U+FFFD";
  EXPECT_EQ(checkpoint_metadata("\xFF\xFE.safetensors"), "\xEF\xBF\xBD\xEF\xBF\xBD.safetensors");
  EXPECT_EQ(checkpoint_metadata("\xC3\xA9t\xC3\xA9.safetensors"), "\xC3\xA9t\xC3\xA9.safetensors") << "valid UTF-8 is kept";
}

// `train_gpu export` on a checkpoint and on a PyTorch state_dict of the same weights.
TEST(OnnxExport, CommandWritesTheFileFromEitherKindOfCheckpoint) {
  t::TempDir scratch;
  const Checkpoint checkpoint = t::checkpoint_of(t::random_parameters(5));
  const fs::path ours = scratch / "epoch-001.safetensors";
  save_checkpoint(ours, checkpoint);
  const fs::path foreign = scratch / "net.safetensors";
  t::write_state_dict(foreign, checkpoint.state.parameters);

  const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
  t::CommandResult result = t::run_command(binary + " export --checkpoint " + t::shell_quote(ours.string()) + " --out " +
                                               t::shell_quote((scratch / "ours.onnx").string()),
                                           scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  t::expect_contains(result.out, "wrote " + (scratch / "ours.onnx").string());
  t::expect_contains(result.out, "ONNX opset 17");
  result = t::run_command(binary + " export --checkpoint " + t::shell_quote(foreign.string()) + " --format onnx --out " +
                              t::shell_quote((scratch / "foreign.onnx").string()),
                          scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  t::expect_contains(result.out, "carries no train_gpu metadata");

  const t::Bytes ours_bytes = t::read_file(scratch / "ours.onnx");
  const t::Bytes foreign_bytes = t::read_file(scratch / "foreign.onnx");
  const onnx::ModelProto from_ours = parse(std::string(ours_bytes.begin(), ours_bytes.end()));
  const onnx::ModelProto from_foreign = parse(std::string(foreign_bytes.begin(), foreign_bytes.end()));
  EXPECT_EQ(from_ours.graph().SerializeAsString(), from_foreign.graph().SerializeAsString())
      << "the same weights make the same graph";
  EXPECT_EQ(from_ours.metadata_props_size(), 4);
  EXPECT_EQ(from_foreign.metadata_props_size(), 1) << "only the checkpoint's file name";

  // Without --out: model.onnx in the current directory.
  result = t::run_command("cd " + t::shell_quote(scratch.path().string()) + " && " + binary + " export --checkpoint " +
                              t::shell_quote(ours.string()),
                          scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(t::read_file(scratch / "model.onnx"), ours_bytes);
}

// Through the binary: a checkpoint whose name is Latin-1 exports, the metadata is valid UTF-8, and
// the command says what it did to the name.
TEST(OnnxExport, CommandSaysWhenTheFileNameIsNotUtf8) {
  t::TempDir scratch;
  const fs::path latin1 = scratch / "r\xE9seau.safetensors";
  save_checkpoint(latin1, t::checkpoint_of(t::random_parameters(9)));
  const fs::path out = scratch / "model.onnx";
  const t::CommandResult result = t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " +
                                                     t::shell_quote(latin1.string()) + " --out " + t::shell_quote(out.string()),
                                                 scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  t::expect_contains(result.out, "not valid UTF-8");
  const t::Bytes bytes = t::read_file(out);
  const onnx::ModelProto model = parse(std::string(bytes.begin(), bytes.end()));
  std::map<std::string, std::string> metadata;
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) metadata[entry.key()] = entry.value();
  EXPECT_EQ(metadata["train_gpu.checkpoint"], "r\xEF\xBF\xBDseau.safetensors");

  // A UTF-8 name gets no note.
  const fs::path utf8 = scratch / "r\xC3\xA9seau.safetensors";
  save_checkpoint(utf8, t::checkpoint_of(t::random_parameters(9)));
  const t::CommandResult clean = t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " +
                                                    t::shell_quote(utf8.string()) + " --out " + t::shell_quote(out.string()),
                                                scratch.path());
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out.find("UTF-8"), std::string::npos) << clean.out;
}

TEST(OnnxExport, CommandErrorsAreOneLine) {
  t::TempDir scratch;
  const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
  const fs::path state_dict = scratch / "net.safetensors";
  t::write_state_dict(state_dict, t::random_parameters(6));
  t::CommandResult result = t::run_command(binary + " export --checkpoint " + t::shell_quote(state_dict.string()) +
                                               " --format tflite",
                                           scratch.path());
  EXPECT_NE(result.exit_code, 0);
  t::expect_contains(result.err, "--format: tflite not in {onnx}");

  result = t::run_command(binary + " export --checkpoint " + t::shell_quote(state_dict.string()) + " --out " +
                              t::shell_quote((scratch / "missing-dir" / "m.onnx").string()),
                          scratch.path());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(t::lines_of(result.err).size(), 1u) << result.err;
  t::expect_contains(result.err, "missing-dir");
}

}  // namespace
}  // namespace train_gpu
