// The Keras JSON reader and writer (host/model/keras_json.h): Keras 3's and Keras 2's forms read
// into the spec Keras means, every unsupported layer or option one Error naming both, malformed
// input one Error naming the file, and keras_json() read back into the same spec. The Python
// side (Keras itself writing and reading these files) is tests/keras_model_python_test.cpp.
#include "host/model/keras_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/model/model_spec.h"
#include "host/model/spec_line.h"

namespace train_gpu::model {
namespace {

using nlohmann::json;

// A layer entry as Keras 3 writes it (options beyond the class's required ones are the caller's).
json keras3_layer(const std::string& class_name, json config) {
  return {{"module", "keras.layers"}, {"class_name", class_name}, {"config", std::move(config)}, {"registered_name", nullptr}};
}

json keras3_model(const std::vector<int>& batch_shape_hwc, std::vector<json> layers) {
  json list = json::array();
  if (!batch_shape_hwc.empty()) {
    json batch_shape = json::array({nullptr});
    for (const int dim : batch_shape_hwc) batch_shape.push_back(dim);
    list.push_back(keras3_layer("InputLayer", {{"batch_shape", batch_shape}, {"dtype", "float32"}, {"name", "input_layer"}}));
  }
  for (json& layer : layers) list.push_back(std::move(layer));
  return {{"module", "keras"}, {"class_name", "Sequential"}, {"config", {{"name", "sequential"}, {"layers", list}}}};
}

json conv_config(const std::string& name, int filters) {
  return {{"name", name},        {"trainable", true},   {"filters", filters},          {"kernel_size", {3, 3}},
          {"strides", {1, 1}},   {"padding", "valid"},  {"data_format", "channels_last"}, {"dilation_rate", {1, 1}},
          {"groups", 1},         {"activation", "relu"}, {"use_bias", true},            {"kernel_regularizer", nullptr}};
}

// Keras's "Simple MNIST convnet" as Keras 3's to_json() writes it (the options that matter).
json simple_convnet() {
  return keras3_model({28, 28, 1}, {keras3_layer("Conv2D", conv_config("conv2d", 32)),
                                    keras3_layer("MaxPooling2D", {{"name", "max_pooling2d"}, {"pool_size", {2, 2}}, {"strides", {2, 2}}, {"padding", "valid"}}),
                                    keras3_layer("Conv2D", conv_config("conv2d_1", 64)),
                                    keras3_layer("MaxPooling2D", {{"name", "max_pooling2d_1"}, {"pool_size", {2, 2}}}),
                                    keras3_layer("Flatten", {{"name", "flatten"}, {"data_format", "channels_last"}}),
                                    keras3_layer("Dropout", {{"name", "dropout"}, {"rate", 0.5}, {"seed", nullptr}, {"noise_shape", nullptr}}),
                                    keras3_layer("Dense", {{"name", "dense"}, {"units", 10}, {"activation", "softmax"}})});
}

std::string error_of(const std::string& text, const Shape* data_input = nullptr) {
  try {
    network_from_keras_json(text, "net.json", data_input);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string with_conv_option(const std::string& key, json value) {
  json model = simple_convnet();
  model["config"]["layers"][3]["config"][key] = std::move(value);
  return model.dump();
}

TEST(KerasJson, ReadsKerasSimpleMnistConvnet) {
  const NetworkSpec spec = network_from_keras_json(simple_convnet().dump(), "net.json", nullptr);
  EXPECT_EQ(spec.input, (Shape{1, 28, 28}));
  ASSERT_EQ(spec.layers.size(), 7u);
  EXPECT_EQ(spec.layers[2].name, "conv2d_1");
  EXPECT_EQ(spec.layers[2].output, (Shape{64, 11, 11}));
  EXPECT_EQ(spec.layers[4].output, (Shape{1600, 1, 1}));
  EXPECT_FLOAT_EQ(spec.layers[5].rate, 0.5f);
  EXPECT_TRUE(spec.softmax_output);
  // keras.io's page: "Total params: 34,826".
  EXPECT_EQ(spec.parameter_count, 34826u);
  EXPECT_EQ(spec.buffer_count, 0u);
}

TEST(KerasJson, TheTutorialsJsonIsTheTutorial) {
  const NetworkSpec spec = network_from_keras_json(keras_json(tutorial_network()), "tutorial.json", nullptr);
  EXPECT_TRUE(spec.is_tutorial());
  EXPECT_EQ(spec.description(), kModelDescription);
  EXPECT_EQ(spec.parameters[0].name, "conv.weight") << "the tutorial keeps model_spec.h's tensor names";
}

TEST(KerasJson, WhatItWritesReadsBackToTheSameSpec) {
  const Shape cifar{3, 32, 32};
  for (const char* line : {"conv32k3 relu, maxpool2, flatten, dense128 relu, dense10",
                           "conv16k3 s2 same nobias, batchnorm momentum=0.9 epsilon=1e-05, relu, avgpool2 s1 same, "
                           "conv8k5x3 tanh name=late, maxpool3x2 s2x1, flatten, dropout0.25, dense20 sigmoid, dense10, softmax"}) {
    SCOPED_TRACE(line);
    const NetworkSpec spec = network_from_line(line, cifar);
    const std::string text = keras_json(spec);
    const NetworkSpec back = network_from_keras_json(text, "back.json", &cifar);
    EXPECT_EQ(keras_json(back), text);
    EXPECT_EQ(spec_line(back), spec_line(spec));
    EXPECT_EQ(back.description(), spec.description());
    EXPECT_EQ(back.parameter_count, spec.parameter_count);
    EXPECT_EQ(back.buffer_count, spec.buffer_count);
    EXPECT_EQ(back.softmax_output, spec.softmax_output);
  }
}

TEST(KerasJson, ReadsKeras2Forms) {
  // tf.keras 2.x: batch_input_shape on the first layer, plain-string dtypes, Keras 2's initializer form.
  const json conv = {{"class_name", "Conv2D"},
                     {"config", {{"name", "conv2d"}, {"trainable", true}, {"batch_input_shape", {nullptr, 28, 28, 1}},
                                 {"dtype", "float32"}, {"filters", 8}, {"kernel_size", {3, 3}}, {"strides", {1, 1}},
                                 {"padding", "valid"}, {"data_format", "channels_last"}, {"dilation_rate", {1, 1}},
                                 {"groups", 1}, {"activation", "relu"}, {"use_bias", true},
                                 {"kernel_initializer", {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}}},
                                 {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}}}}};
  const json bn = {{"class_name", "BatchNormalization"},
                   {"config", {{"name", "bn"}, {"axis", {3}}, {"momentum", 0.9}, {"epsilon", 1e-5}, {"center", true},
                               {"scale", true}, {"fused", nullptr}}}};
  const json flatten = {{"class_name", "Flatten"}, {"config", {{"name", "flatten"}, {"data_format", "channels_last"}}}};
  const json dense = {{"class_name", "Dense"}, {"config", {{"name", "dense"}, {"units", 10}, {"activation", "linear"}}}};
  const json dict_form = {{"class_name", "Sequential"},
                          {"config", {{"name", "sequential"}, {"layers", {conv, bn, flatten, dense}}}},
                          {"keras_version", "2.11.0"},
                          {"backend", "tensorflow"}};
  const json list_form = {{"class_name", "Sequential"}, {"config", {conv, bn, flatten, dense}}};
  for (const json& model : {dict_form, list_form}) {
    const NetworkSpec spec = network_from_keras_json(model.dump(), "old.json", nullptr);
    EXPECT_EQ(spec.input, (Shape{1, 28, 28}));
    ASSERT_EQ(spec.layers.size(), 4u);
    EXPECT_EQ(spec.layers[1].kind, LayerKind::kBatchNorm);
    EXPECT_FLOAT_EQ(spec.layers[1].momentum, 0.9f);
    EXPECT_FLOAT_EQ(spec.layers[1].epsilon, 1e-5f);
    // 8*9+8 conv, 2*8 trainable + 2*8 moving statistics, 8*26*26*10+10 dense.
    EXPECT_EQ(spec.parameter_count, 80u + 16u + 54090u);
    EXPECT_EQ(spec.buffer_count, 16u);
  }
}

TEST(KerasJson, ChannelsFirstInputIsChannelsHeightWidth) {
  json model = keras3_model({3, 32, 16}, {keras3_layer("Conv2D", conv_config("conv2d", 4)),
                                           keras3_layer("Flatten", {{"name", "flatten"}, {"data_format", "channels_first"}}),
                                           keras3_layer("Dense", {{"name", "dense"}, {"units", 10}})});
  model["config"]["layers"][1]["config"]["data_format"] = "channels_first";
  const NetworkSpec spec = network_from_keras_json(model.dump(), "cf.json", nullptr);
  EXPECT_EQ(spec.input, (Shape{3, 32, 16}));
  EXPECT_EQ(spec.layers[0].output, (Shape{4, 30, 14}));

  model["config"]["layers"][2]["config"]["data_format"] = "channels_last";
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 3 'flatten' (Flatten): data_format channels_last differs from an "
                                    "earlier layer's; one data format per model");
}

TEST(KerasJson, TheDataGivesTheInputOnlyWhereTheJsonHasNone) {
  json model = simple_convnet();
  const Shape mnist{1, 28, 28}, cifar{3, 32, 32};
  EXPECT_EQ(network_from_keras_json(model.dump(), "net.json", &mnist).input, mnist);
  EXPECT_EQ(error_of(model.dump(), &cifar), "net.json: the model's input is (28, 28, 1) (1x28x28) but the data's images are "
                                            "3x32x32; change the model's input shape or the dataset");
  model["config"]["layers"].erase(0);  // no InputLayer
  EXPECT_EQ(network_from_keras_json(model.dump(), "net.json", &cifar).input, cifar);
  EXPECT_EQ(error_of(model.dump()), "net.json: the model gives no input shape (no InputLayer, batch_input_shape or "
                                    "build_input_shape); add keras.Input((height, width, channels)) as its first layer");
  model["config"]["build_input_shape"] = {nullptr, 20, 20, 2};
  EXPECT_EQ(network_from_keras_json(model.dump(), "net.json", nullptr).input, (Shape{2, 20, 20}));
}

TEST(KerasJson, AFirstReshapeToAOneChannelImageIsRead) {
  json model = simple_convnet();
  model["config"]["layers"][0]["config"]["batch_shape"] = {nullptr, 784};
  model["config"]["layers"].insert(model["config"]["layers"].begin() + 1,
                                   keras3_layer("Reshape", {{"name", "reshape"}, {"target_shape", {28, 28, 1}}}));
  const NetworkSpec spec = network_from_keras_json(model.dump(), "net.json", nullptr);
  EXPECT_EQ(spec.input, (Shape{1, 28, 28}));
  EXPECT_EQ(spec.layers.size(), 7u) << "the Reshape is no layer of ours";

  model["config"]["layers"][1]["config"]["target_shape"] = {14, 28, 2};
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 2 'reshape' (Reshape): Reshape to (14, 28, 2) is supported only as "
                                    "the first layer, turning a one-channel input into an image (H, W, 1) of the same "
                                    "values; reshape the data instead");
}

TEST(KerasJson, AnInputThatIsNoImageIsRefused) {
  json model = simple_convnet();
  model["config"]["layers"][0]["config"]["batch_shape"] = {nullptr, 784};
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 1 'input_layer' (InputLayer): batch_shape (784,) is not an image shape; "
                                    "expected (height, width, channels), e.g. keras.Input((28, 28, 1))");
}

TEST(KerasJson, UnsupportedOptionsAreOneErrorNamingLayerAndOption) {
  EXPECT_EQ(error_of(with_conv_option("dilation_rate", {2, 2})),
            "net.json: layer 4 'conv2d_1' (Conv2D): dilation_rate [2, 2] is not supported; only 1");
  EXPECT_EQ(error_of(with_conv_option("groups", 2)), "net.json: layer 4 'conv2d_1' (Conv2D): groups 2 is not supported; only 1");
  EXPECT_EQ(error_of(with_conv_option("padding", "causal")),
            "net.json: layer 4 'conv2d_1' (Conv2D): padding 'causal' is not supported; use valid or same");
  EXPECT_EQ(error_of(with_conv_option("activation", "elu")),
            "net.json: layer 4 'conv2d_1' (Conv2D): activation 'elu' is not supported; use relu, linear, tanh, sigmoid or softmax");
  EXPECT_EQ(error_of(with_conv_option("kernel_regularizer", {{"class_name", "L2"}, {"config", {{"l2", 0.01}}}})),
            "net.json: layer 4 'conv2d_1' (Conv2D): kernel_regularizer an object is not supported; train_gpu trains "
            "without weight penalties; remove it (or use --weight-decay where available)");
  EXPECT_EQ(error_of(with_conv_option("trainable", false)),
            "net.json: layer 4 'conv2d_1' (Conv2D): trainable false (a frozen layer) is not supported; every layer trains here");
  EXPECT_EQ(error_of(with_conv_option("dtype", "float16")),
            "net.json: layer 4 'conv2d_1' (Conv2D): dtype \"float16\" is not supported; only float32");
  EXPECT_EQ(error_of(with_conv_option("lora_rank", 4)),
            "net.json: layer 4 'conv2d_1' (Conv2D): option 'lora_rank' (4) is not supported");
  EXPECT_EQ(error_of(with_conv_option("future_option", nullptr)), "(no error)") << "null options are Keras's 'off'";
  EXPECT_EQ(error_of(with_conv_option("filters", 0)),
            "net.json: layer 4 'conv2d_1' (Conv2D): filters 0 must be an integer from 1 to 1048576");
  EXPECT_EQ(error_of(with_conv_option("kernel_size", {3, 3, 3})),
            "net.json: layer 4 'conv2d_1' (Conv2D): kernel_size [3, 3, 3] must be an integer or a list of 2 integers");
  EXPECT_EQ(error_of(with_conv_option("use_bias", "yes")),
            "net.json: layer 4 'conv2d_1' (Conv2D): use_bias \"yes\" must be true or false");

  json model = simple_convnet();
  model["config"]["layers"][7] = keras3_layer("LSTM", {{"name", "lstm"}, {"units", 4}});
  EXPECT_EQ(error_of(model.dump()),
            "net.json: layer 8 'lstm' (LSTM): layer type LSTM is not supported; supported: InputLayer, Conv2D, "
            "MaxPooling2D, AveragePooling2D, Flatten, Dense, Dropout, BatchNormalization, Activation, ReLU, Softmax (and a "
            "first Reshape that changes nothing)");
  model = simple_convnet();
  model["config"]["layers"][6]["config"]["noise_shape"] = {nullptr, 1};
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 7 'dropout' (Dropout): noise_shape [null, 1] is not supported; masks "
                                    "are drawn per value");
  model = simple_convnet();
  model["config"]["layers"][6]["config"]["rate"] = 1.0;
  EXPECT_EQ(error_of(model.dump()),
            "net.json: layer 7 'dropout' (Dropout): rate 1.000000 must be in [0, 1): the fraction dropped");
}

TEST(KerasJson, BatchNormalizationOnAnotherAxisIsRefused) {
  json model = keras3_model({8, 8, 3}, {keras3_layer("BatchNormalization", {{"name", "bn"}, {"axis", 1}}),
                                        keras3_layer("Flatten", {{"name", "flatten"}}),
                                        keras3_layer("Dense", {{"name", "dense"}, {"units", 2}})});
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 2 'bn' (BatchNormalization): axis 1 is not supported; only the "
                                    "channel axis (-1 for channels_last)");
  model["config"]["layers"][1]["config"]["axis"] = -1;
  model["config"]["layers"][1]["config"]["center"] = false;
  EXPECT_EQ(error_of(model.dump()), "net.json: layer 2 'bn' (BatchNormalization): center false is not supported; only "
                                    "true (a learned beta)");
}

TEST(KerasJson, ShapeErrorsOfTheNetworkNameTheFile) {
  json model = simple_convnet();
  model["config"]["layers"].erase(5);  // no Flatten: Dropout then Dense on an image
  EXPECT_EQ(error_of(model.dump()).rfind("net.json: layer 6 (dense, Dense): Dense needs a flat input", 0), 0u)
      << error_of(model.dump());
}

TEST(KerasJson, NonDefaultInitializersAreSetAsideWithANote) {
  json model = simple_convnet();
  model["config"]["layers"][1]["config"]["kernel_initializer"] = {{"module", "keras.initializers"}, {"class_name", "HeNormal"}};
  model["config"]["layers"][3]["config"]["kernel_initializer"] = "glorot_uniform";
  std::vector<std::string> notes;
  network_from_keras_json(model.dump(), "net.json", nullptr, &notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "net.json: layer 2 'conv2d' (Conv2D): kernel_initializer \"HeNormal\" is set aside: training here "
                      "starts from Keras's default, GlorotUniform");
}

TEST(KerasJson, MalformedFilesAreOneErrorNamingTheFile) {
  EXPECT_EQ(error_of("{\"class_name\": "), "net.json: not valid JSON (parse error at line 1, column 16: syntax error while "
                                           "parsing value - unexpected end of input; expected '[', '{', or a literal); "
                                           "expected what Keras's model.to_json() writes");
  EXPECT_EQ(error_of("[1, 2]"), "net.json: not a Keras model (no class_name at the top); expected what a keras.Sequential's "
                                "to_json() writes");
  EXPECT_EQ(error_of(R"({"class_name": "Functional", "config": {}})"),
            "net.json: a Keras Functional model; only keras.Sequential models are read (one input, one chain of layers)");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": 3}})"),
            "net.json: the Sequential's config holds no layer list");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": []}})"), "net.json: the Sequential has no layers to train");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": [7]}})"),
            "net.json: layer 1 is 7, expected an object with class_name and config");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}})"),
            "net.json: layer 1 (Dense) has no config object");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": 5}}]}})"),
            "net.json: layer 1 (Dense): name 5 must be a string");
  EXPECT_EQ(error_of(R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {}}]}})"),
            "net.json: layer 1 (Dense): units is missing; expected an integer");
  // Deep nesting where a number belongs: named by its type, not dumped. The text is spliced in
  // rather than built as a json and dumped: dump() recurses once per level, and 10,000 levels
  // overflow the stack under AddressSanitizer, the test's own dump() included.
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  std::string text = with_conv_option("filters", "DEEP");
  text.replace(text.find("\"DEEP\""), 6, deep);
  EXPECT_EQ(error_of(text),
            "net.json: layer 4 'conv2d_1' (Conv2D): filters an array of 1 items must be an integer from 1 to 1048576");
}

}  // namespace
}  // namespace train_gpu::model
