// Gradients of the spec-driven CPU network (host/model/cpu/): the float32 backward pass of every
// layer kind, and of whole specs, against central finite differences of the float64 reference
// loss (reference_spec_network.h) on the same batch, the same weights and the same dropout masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "host/model/cpu/conv2d_layer.h"
#include "support/example_specs.h"
#include "support/spec_problem.h"

namespace train_gpu {
namespace {

using namespace testing::layers;

// d(mean loss)/d parameter i by central differences in float64. h = 1e-6 keeps the truncation
// error (h^2 * f''') near 1e-12 and the rounding error (1e-16 * loss / h) near 1e-10, both far
// below the float32 backprop's own error; a ReLU or max kink lies within h of a random input with
// probability ~1e-6 per element.
double finite_difference(const testing::SpecProblem& problem, const reference::SpecPass& pass,
                         std::vector<double>& parameters, std::size_t i) {
  const double h = 1e-6, saved = parameters[i];
  const auto loss = [&] {
    const auto outputs = reference::spec_forward(problem.spec, parameters, problem.buffers64(), problem.images64(),
                                                 problem.count, pass);
    return reference::mean_softmax_xent(outputs.back(), problem.labels, problem.spec.classes());
  };
  parameters[i] = saved + h;
  const double up = loss();
  parameters[i] = saved - h;
  const double down = loss();
  parameters[i] = saved;
  return (up - down) / (2 * h);
}

// A bias of a layer without activation whose output goes straight into BatchNormalization.
bool feeds_batch_norm_linearly(const model::NetworkSpec& spec, const model::ArenaTensor& tensor) {
  const std::size_t layer = std::size_t(tensor.layer);
  return tensor.name.size() > 5 && tensor.name.compare(tensor.name.size() - 5, 5, ".bias") == 0 &&
         spec.layers[layer].kind != model::LayerKind::kBatchNorm && spec.layers[layer].activation == Activation::kLinear &&
         layer + 1 < spec.layers.size() && spec.layers[layer + 1].kind == model::LayerKind::kBatchNorm;
}

// Checks up to `per_tensor` elements of every parameter tensor (all of them when it has no more),
// spread evenly. The float32 backward pass rounds each sum of K products to ~sqrt(K) * 6e-8 of
// its terms, and a layer passes its error on: across these specs' few layers that stays below
// ~1e-5 of a tensor's largest gradient (observed: under 3e-6). A gradient element may be a
// near-cancelling sum, so the bound is 2e-4 of the tensor's largest gradient: an indexing or
// scaling fault changes gradients by their own size, 5000 times the bound.
void expect_gradients_match(const model::NetworkSpec& spec, int count, uint64_t seed, std::size_t per_tensor = 1000,
                            const cpu::CpuNetworkOptions& options = {}) {
  const testing::SpecProblem problem = testing::make_spec_problem(spec, count, seed);
  reference::SpecPass pass;
  pass.training = true;
  const std::vector<float> gradients = testing::float_gradients(problem, &pass.masks, nullptr, options);
  std::vector<double> parameters = problem.parameters64();
  for (const model::ArenaTensor& tensor : spec.parameters) {
    const std::size_t stride = std::max<std::size_t>(1, tensor.count / per_tensor);
    std::vector<std::size_t> checked;
    std::vector<double> expected;
    for (std::size_t i = 0; i < tensor.count; i += stride) {
      checked.push_back(tensor.offset + i);
      expected.push_back(finite_difference(problem, pass, parameters, tensor.offset + i));
    }
    double largest = 0;
    for (const double value : expected) largest = std::max(largest, std::fabs(value));
    if (feeds_batch_norm_linearly(spec, tensor)) {
      // BatchNormalization subtracts the batch mean, so a bias added just before it changes
      // nothing: its gradient is 0 exactly, and the float one the rounding residue of a sum over
      // the batch's N*H*W cancelling terms (observed up to 4e-7). The bound becomes 1e-5; without
      // the mean's subtraction, the gradient would be the size of the others (1e-3 and more).
      largest = 0.05;
    } else {
      ASSERT_GT(largest, 1e-6) << tensor.name << ": the check needs gradients that are not all ~0";
    }
    for (std::size_t k = 0; k < checked.size(); ++k) {
      ASSERT_NEAR(gradients[checked[k]], expected[k], 2e-4 * largest)
          << spec.description() << ": " << tensor.name << " element " << checked[k] - tensor.offset;
    }
  }
}

const model::Shape kSmall{2, 7, 7};  // odd sides: same padding puts its extra row and column at the bottom/right

TEST(SpecGradientCheckTest, ConvolutionWithStrideTwoAndSamePadding) {
  expect_gradients_match(model::build_network(kSmall, {conv(3, 3, 2, Padding::kSame, Activation::kTanh), flatten(), dense(4)}),
                         3, 1);
}

TEST(SpecGradientCheckTest, ConvolutionWithoutBias) {
  expect_gradients_match(
      model::build_network(kSmall, {conv(3, 2, 1, Padding::kValid, Activation::kSigmoid, false), flatten(), dense(4)}), 3, 2);
}

TEST(SpecGradientCheckTest, RectangularKernelAndStrideOnTheSecondConvolution) {
  model::LayerSpec wide = conv(2, 3, 1, Padding::kSame, Activation::kRelu);
  wide.kernel_w = 2;
  wide.stride_w = 2;
  expect_gradients_match(model::build_network(kSmall, {conv(3, 3, 1, Padding::kSame, Activation::kTanh), wide, flatten(), dense(4)}),
                         2, 3);
}

TEST(SpecGradientCheckTest, MaxPoolingWithSamePadding) {
  for (const int size : {2, 3}) {
    expect_gradients_match(model::build_network(kSmall, {conv(3, 3, 1, Padding::kSame, Activation::kLinear),
                                                         pool(LayerKind::kMaxPool2D, size, 2, Padding::kSame), flatten(), dense(4)}),
                           3, 4);
  }
}

TEST(SpecGradientCheckTest, AveragePoolingWithSamePadding) {
  for (const int size : {2, 3}) {
    expect_gradients_match(model::build_network(kSmall, {conv(3, 3, 1, Padding::kSame, Activation::kLinear),
                                                         pool(LayerKind::kAvgPool2D, size, 2, Padding::kSame), flatten(), dense(4)}),
                           3, 5);
  }
}

// A pooling after a ReLU or linear convolution pools the convolution's blocked output and hands
// the gradient back blocked (Conv2DLayer::blocked_handoff); after a tanh one it reads the plain
// copy. 20 filters fill one 16-channel block and part of a second (the padded channels must stay
// out of every sum); 3 filters, part of one.
TEST(SpecGradientCheckTest, PoolingAfterAConvolutionInItsBlockedLayoutAndInThePlainOne) {
  for (const Activation activation : {Activation::kRelu, Activation::kLinear, Activation::kTanh}) {
    for (const int filters : {20, 3}) {
      expect_gradients_match(model::build_network(kSmall, {conv(filters, 3, 1, Padding::kSame, activation),
                                                           pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame),
                                                           conv(4, 2, 1, Padding::kValid, activation),
                                                           pool(LayerKind::kAvgPool2D, 2, 1, Padding::kValid), flatten(), dense(4)}),
                             3, 10, 300);
    }
  }
}

TEST(SpecGradientCheckTest, DenseLayersWithAndWithoutBias) {
  expect_gradients_match(model::build_network(kSmall, {flatten(), dense(6, Activation::kTanh), dense(4, Activation::kLinear, false)}),
                         3, 6);
}

TEST(SpecGradientCheckTest, BatchNormalizationInTrainingModeOnMapsAndOnFeatures) {
  expect_gradients_match(model::build_network(kSmall, {conv(3, 3), batch_norm(), activation(Activation::kRelu), flatten(),
                                                       dense(6), batch_norm(0.9f, 1e-2f), activation(Activation::kTanh), dense(4)}),
                         4, 7);
}

TEST(SpecGradientCheckTest, DropoutWithTheStepsMask) {
  expect_gradients_match(model::build_network(kSmall, {conv(3, 3), flatten(), dropout(0.4f), dense(4)}), 3, 8);
}

TEST(SpecGradientCheckTest, TanhAndSigmoidActivationLayers) {
  expect_gradients_match(model::build_network(kSmall, {flatten(), dense(6), activation(Activation::kSigmoid), dense(5),
                                                       activation(Activation::kTanh), dense(4)}),
                         3, 9);
}

// Winograd (--winograd, the CLI's default): the 3x3 stride-1 convolutions with 16 and 32 input
// channels compute their forward pass and weight gradients through oneDNN's F(4x4, 3x3) tiles,
// the input gradient directly. The bound above applies unchanged: Winograd's outputs came within
// 7.6e-7 of their largest value of float64 (direct sums: 6.2e-7; tests/cpu_network_test.cpp), so
// its gradients stay as far below 2e-4 as direct ones. Valid and same padding; the first layer
// gets its output gradient through the second one's direct input gradient.
TEST(SpecGradientCheckTest, WinogradConvolutions) {
  const model::NetworkSpec spec = model::build_network({16, 8, 8}, {conv(32, 3, 1, Padding::kValid), conv(16, 3, 1, Padding::kSame, Activation::kTanh),
                                                                     pool(LayerKind::kMaxPool2D, 2), flatten(), dense(4)});
  cpu::CpuNetwork probe(spec, 3, cpu::CpuNetworkOptions{true});
  for (const int layer : {0, 1}) {
    const auto* convolution = dynamic_cast<const cpu::Conv2DLayer*>(probe.layer(layer));
    ASSERT_NE(convolution, nullptr);
    if (!convolution->winograd()) GTEST_SKIP() << "oneDNN has no Winograd kernel for layer " << layer + 1 << " on this CPU";
  }
  expect_gradients_match(spec, 3, 12, 300, cpu::CpuNetworkOptions{true});
}

// Whole specs: every tensor sampled (20 elements each: the float64 forward of these is slow).
TEST(SpecGradientCheckTest, KerasSimpleMnistConvnet) {
  expect_gradients_match(testing::simple_mnist_convnet(), 2, 10, 20);
  expect_gradients_match(testing::simple_mnist_convnet(), 2, 10, 20, cpu::CpuNetworkOptions{true});
}

TEST(SpecGradientCheckTest, CifarShapedNetwork) {
  expect_gradients_match(testing::cifar_shaped(4), 2, 11, 20);
}

}  // namespace
}  // namespace train_gpu
