// The runtime model spec: the tutorial's spec has model_spec.h's arena to the element, shapes and
// parameter counts follow Keras's for other networks, and each malformed spec is one error naming
// the layer and the field.
#include "host/model/network_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/model/model_spec.h"

namespace train_gpu::model {
namespace {

LayerSpec conv(int filters, int kernel, Activation activation = Activation::kRelu, int stride = 0,
               Padding padding = Padding::kValid) {
  LayerSpec layer;
  layer.kind = LayerKind::kConv2D;
  layer.units = filters;
  layer.kernel_h = layer.kernel_w = kernel;
  layer.stride_h = layer.stride_w = stride;
  layer.padding = padding;
  layer.activation = activation;
  return layer;
}
LayerSpec pool(LayerKind kind, int size, int stride = 0, Padding padding = Padding::kValid) {
  LayerSpec layer;
  layer.kind = kind;
  layer.kernel_h = layer.kernel_w = size;
  layer.stride_h = layer.stride_w = stride;
  layer.padding = padding;
  return layer;
}
LayerSpec simple(LayerKind kind) {
  LayerSpec layer;
  layer.kind = kind;
  return layer;
}
LayerSpec dense(int units, Activation activation = Activation::kLinear) {
  LayerSpec layer;
  layer.kind = LayerKind::kDense;
  layer.units = units;
  layer.activation = activation;
  return layer;
}
LayerSpec dropout(float rate) {
  LayerSpec layer = simple(LayerKind::kDropout);
  layer.rate = rate;
  return layer;
}

// Keras's "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet).
std::vector<LayerSpec> simple_convnet() {
  return {conv(32, 3), pool(LayerKind::kMaxPool2D, 2), conv(64, 3), pool(LayerKind::kMaxPool2D, 2),
          simple(LayerKind::kFlatten), dropout(0.5f), dense(10, Activation::kSoftmax)};
}

std::string error_of(const Shape& input, std::vector<LayerSpec> layers) {
  try {
    build_network(input, std::move(layers));
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(NetworkSpec, TheTutorialsArenaIsModelSpecsToTheElement) {
  const NetworkSpec& spec = tutorial_network();
  ASSERT_TRUE(spec.is_tutorial());
  EXPECT_EQ(spec.parameter_count, kParameterCount);
  EXPECT_EQ(spec.buffer_count, 0u);
  ASSERT_EQ(spec.parameters.size(), std::size_t(kTensorCount));
  for (int i = 0; i < kTensorCount; ++i) {
    const TensorSpec& expected = kParameterTensors[i];
    const ArenaTensor& tensor = spec.parameters[std::size_t(i)];
    EXPECT_EQ(tensor.name, expected.name);
    EXPECT_EQ(tensor.offset, expected.offset) << expected.name;
    EXPECT_EQ(tensor.count, expected.count) << expected.name;
    ASSERT_EQ(tensor.shape.size(), std::size_t(expected.rank)) << expected.name;
    for (int d = 0; d < expected.rank; ++d) EXPECT_EQ(tensor.shape[std::size_t(d)], expected.shape[d]) << expected.name;
  }
  EXPECT_EQ(spec.description(), kModelDescription);
  EXPECT_EQ(spec.classes(), kClasses);
  EXPECT_EQ(spec.layers[2].output, (Shape{kFlatFeatures, 1, 1}));
  EXPECT_EQ(spec.layers[0].name, "conv2d");
  EXPECT_EQ(spec.layers[4].name, "dense_1");
}

TEST(NetworkSpec, SoftmaxOnTheLastLayerIsTheSameModelFoldedIntoTheLoss) {
  std::vector<LayerSpec> layers = tutorial_network().layers;
  layers[4].activation = Activation::kSoftmax;
  for (LayerSpec& layer : layers) layer.name.clear();
  const NetworkSpec spec = build_network(Shape{1, 28, 28}, layers);
  EXPECT_TRUE(spec.is_tutorial());
  EXPECT_TRUE(spec.softmax_output);
  EXPECT_EQ(spec.description(), kModelDescription);
  EXPECT_EQ(spec.parameters[0].name, "conv.weight");
}

TEST(NetworkSpec, KerasSimpleConvnetHasKerasShapesAndParameterCount) {
  const NetworkSpec spec = build_network(Shape{1, 28, 28}, simple_convnet());
  EXPECT_FALSE(spec.is_tutorial());
  // model.summary() of the Keras example: 26x26x32, 13x13x32, 11x11x64, 5x5x64, 1600; 34,826 params.
  EXPECT_EQ(spec.layers[0].output, (Shape{32, 26, 26}));
  EXPECT_EQ(spec.layers[1].output, (Shape{32, 13, 13}));
  EXPECT_EQ(spec.layers[2].output, (Shape{64, 11, 11}));
  EXPECT_EQ(spec.layers[3].output, (Shape{64, 5, 5}));
  EXPECT_EQ(spec.layers[4].output, (Shape{1600, 1, 1}));
  EXPECT_EQ(spec.parameter_count, 34826u);
  EXPECT_TRUE(spec.softmax_output);
  // nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten, Dropout, Linear).
  std::vector<std::string> names;
  for (const ArenaTensor& tensor : spec.parameters) names.push_back(tensor.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias"}));
  EXPECT_EQ(spec.parameters[4].shape, (std::vector<int64_t>{10, 1600}));
  EXPECT_EQ(spec.description(),
            "input 1x28x28 > conv(1->32,3x3,valid)+relu > maxpool2x2 > conv(32->64,3x3,valid)+relu > maxpool2x2 > "
            "flatten(1600) > dropout(0.5) > dense(10)");
}

TEST(NetworkSpec, SamePaddingStridesAndBatchNormFollowTensorFlow) {
  LayerSpec bn = simple(LayerKind::kBatchNorm);
  LayerSpec nobias = conv(16, 3, Activation::kLinear, 2, Padding::kSame);
  nobias.use_bias = false;
  const NetworkSpec spec = build_network(
      Shape{3, 32, 32}, {conv(8, 3, Activation::kRelu, 1, Padding::kSame), bn, nobias, simple(LayerKind::kActivation),
                         pool(LayerKind::kAvgPool2D, 3, 2, Padding::kSame), simple(LayerKind::kFlatten), dense(10)});
  // same, stride 1: 32 -> 32, padding 1 each side; stride 2: ceil(32/2) = 16, total pad (16-1)*2+3-32 = 1,
  // TensorFlow puts it after (bottom/right); avg 3/2 same: ceil(16/2) = 8, total (8-1)*2+3-16 = 1.
  EXPECT_EQ(spec.layers[0].output, (Shape{8, 32, 32}));
  EXPECT_EQ(spec.layers[0].pad_top, 1);
  EXPECT_EQ(spec.layers[0].pad_bottom, 1);
  EXPECT_EQ(spec.layers[2].output, (Shape{16, 16, 16}));
  EXPECT_EQ(spec.layers[2].pad_top, 0);
  EXPECT_EQ(spec.layers[2].pad_bottom, 1);
  EXPECT_EQ(spec.layers[2].pad_right, 1);
  EXPECT_EQ(spec.layers[4].output, (Shape{16, 8, 8}));
  EXPECT_EQ(spec.layers[4].pad_bottom, 1);
  // Trainable: conv 8*3*3*3+8 = 224, BN 2*8 = 16, conv 16*8*9 = 1152 (no bias), dense 10*1024+10 = 10250.
  EXPECT_EQ(spec.parameter_count, 224u + 16u + 1152u + 10250u);
  // Keras counts the moving mean and variance as non-trainable parameters: 2*8.
  EXPECT_EQ(spec.buffer_count, 16u);
  ASSERT_EQ(spec.buffers.size(), 2u);
  EXPECT_EQ(spec.buffers[0].name, "2.running_mean");  // Conv2d, ReLU, BatchNorm2d: index 2
  EXPECT_EQ(spec.buffers[1].offset, 8u);
  EXPECT_EQ(spec.layers[2].parameter_tensors, 1);
  EXPECT_EQ(spec.layers[1].buffer_tensors, 2);
}

TEST(NetworkSpec, UnnamedLayersGetKerasNamesAndNamesMustBeUnique) {
  const NetworkSpec spec = build_network(Shape{1, 28, 28}, simple_convnet());
  EXPECT_EQ(spec.layers[2].name, "conv2d_1");
  EXPECT_EQ(spec.layers[3].name, "max_pooling2d_1");
  std::vector<LayerSpec> layers = simple_convnet();
  layers[0].name = "a";
  layers[2].name = "a";
  EXPECT_EQ(error_of(Shape{1, 28, 28}, layers),
            "layer 3 (a, Conv2D): its name is used by an earlier layer; layer names must be unique");
}

TEST(NetworkSpec, EachMalformedSpecIsOneErrorNamingTheLayer) {
  const Shape mnist{1, 28, 28};
  EXPECT_EQ(error_of(mnist, {}), "model: it has no layers");
  EXPECT_EQ(error_of(Shape{0, 28, 28}, {dense(10)}).rfind("model: input 0x28x28 is not a usable image shape", 0), 0u);
  EXPECT_EQ(error_of(mnist, {conv(8, 3), dense(10)}),
            "layer 2 (dense, Dense): Dense needs a flat input but gets 8x26x26; put a Flatten before it");
  EXPECT_EQ(error_of(mnist, {simple(LayerKind::kFlatten), conv(8, 3), dense(10)}),
            "layer 2 (conv2d, Conv2D): Conv2D needs an image input (channels x height x width) but gets the flat "
            "784x1x1; convolutions go before Flatten and Dense");
  EXPECT_EQ(error_of(mnist, {conv(8, 29), simple(LayerKind::kFlatten), dense(10)}),
            "layer 1 (conv2d, Conv2D): its height window of 29 is larger than its input's 28 (valid padding); use "
            "padding same or a smaller window");
  EXPECT_EQ(error_of(mnist, {conv(0, 3), simple(LayerKind::kFlatten), dense(10)}),
            "layer 1 (conv2d, Conv2D): filters 0 must be 1..1048576");
  EXPECT_EQ(error_of(mnist, {simple(LayerKind::kFlatten), dropout(1.0f), dense(10)}),
            "layer 2 (dropout, Dropout): rate 1.000000 must be in [0, 1): the fraction of values dropped");
  EXPECT_EQ(error_of(mnist, {simple(LayerKind::kFlatten), dense(10, Activation::kSoftmax), dense(10)}),
            "layer 2 (dense, Dense): softmax is supported only as the last activation (folded into the loss, whose "
            "inputs are logits)");
  EXPECT_EQ(error_of(mnist, {simple(LayerKind::kFlatten), dense(10, Activation::kRelu)}),
            "layer 2 (dense, Dense): the last activation is relu; it must be linear or softmax, since the model's "
            "outputs are the loss's logits");
  EXPECT_EQ(error_of(mnist, {conv(8, 3)}),
            "layer 1 (conv2d, Conv2D): the model's output is 8x26x26; it must be flat with one logit per class (at "
            "least 2): end with Flatten/Dense");
  EXPECT_EQ(error_of(mnist, {simple(LayerKind::kFlatten), dense(1)}),
            "layer 2 (dense, Dense): the model's output is 1x1x1; it must be flat with one logit per class (at least "
            "2): end with Flatten/Dense");
}

}  // namespace
}  // namespace train_gpu::model
