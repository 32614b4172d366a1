// The spec-driven CPU network (host/model/cpu/cpu_network.h): the tutorial's spec runs today's
// fused code bit for bit; every layer's float32 output matches a float64 loop of its definition
// in training and evaluation mode; BatchNormalization's moving statistics follow Keras; dropout
// drops only in training, with masks that depend on (seed, step, layer) alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/math/dropout_math.h"
#include "host/common/error.h"
#include "host/model/cpu/conv2d_layer.h"
#include "host/model/cpu/dropout_layer.h"
#include "host/model/cpu_layers.h"
#include "host/model/model_spec.h"
#include "support/example_specs.h"
#include "support/spec_problem.h"

namespace train_gpu {
namespace {

using namespace testing::layers;

bool bitwise_equal(const float* a, const float* b, std::size_t count) { return std::memcmp(a, b, count * sizeof(float)) == 0; }

TEST(CpuNetworkTest, TheTutorialSpecRunsTheFusedKernelsBitIdentically) {
  testing::SpecProblem problem = testing::make_spec_problem(model::tutorial_network(), 5, 21);
  cpu::CpuNetwork network(problem.spec, 8);
  EXPECT_TRUE(network.fused(0));
  reference::DropoutMasks unused;
  const std::vector<float> gradients = testing::float_gradients(problem, &unused, nullptr);

  cpu::NetworkWorkspace workspace(8);
  std::copy(problem.images.begin(), problem.images.end(), workspace.images.begin());
  cpu::network_forward(problem.parameters.data(), problem.count, workspace);
  for (int n = 0; n < problem.count; ++n) {
    math::softmax_xent_row(workspace.logits.data() + std::size_t(n) * model::kClasses, model::kClasses,
                           problem.labels[std::size_t(n)], 1.0f / float(problem.count),
                           workspace.dlogits.data() + std::size_t(n) * model::kClasses);
  }
  std::vector<float> expected(model::kParameterCount);
  cpu::network_backward(problem.parameters.data(), problem.count, workspace, expected.data());
  EXPECT_TRUE(bitwise_equal(gradients.data(), expected.data(), expected.size()));

  testing::run_forward(network, problem, true);
  EXPECT_TRUE(bitwise_equal(network.logits(), workspace.logits.data(), std::size_t(problem.count) * model::kClasses));
}

TEST(CpuNetworkTest, TheFusedPairIsRecognizedOnlyWhereItFits) {
  EXPECT_TRUE(cpu::CpuNetwork(testing::simple_mnist_convnet(), 2).fused(0));
  const model::Shape mnist{1, 28, 28};
  // Same padding, 16 filters, average pooling: none is what the fused kernels compute.
  EXPECT_FALSE(cpu::CpuNetwork(model::build_network(mnist, {conv(32, 3, 1, Padding::kSame), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)}), 2).fused(0));
  EXPECT_FALSE(cpu::CpuNetwork(model::build_network(mnist, {conv(16, 3), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)}), 2).fused(0));
  EXPECT_FALSE(cpu::CpuNetwork(model::build_network(mnist, {conv(32, 3), pool(LayerKind::kAvgPool2D, 2), flatten(), dense(10)}), 2).fused(0));
  // A BatchNormalization before the pair needs the input gradient, which the fused kernels lack.
  EXPECT_FALSE(cpu::CpuNetwork(model::build_network(mnist, {batch_norm(), conv(32, 3), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)}), 2).fused(1));
}

// Float32 against float64, every layer's output. A conv or dense output sums K <= 288 products
// of values below ~3 in magnitude: float32 rounding reaches ~sqrt(K) * 6e-8 of the terms, and
// BatchNormalization rescales errors by 1/std (std here >= ~0.1). 2e-5 of the layer's largest
// output, plus 1e-6, holds with a wide margin (observed under 2e-6) and still catches any
// padding, stride or window fault, which changes outputs by their own size.
void expect_layers_match(const model::NetworkSpec& spec, int count, uint64_t seed, bool training,
                         const cpu::CpuNetworkOptions& options = {}) {
  testing::SpecProblem problem = testing::make_spec_problem(spec, count, seed);
  const std::vector<double> buffers = problem.buffers64();
  cpu::CpuNetwork network(spec, count + 1, options);
  testing::run_forward(network, problem, training);
  reference::SpecPass pass;
  pass.training = training;
  for (int i = 0; i < int(spec.layers.size()); ++i) {
    if (spec.layers[std::size_t(i)].kind != LayerKind::kDropout || !training) continue;
    const auto* layer = dynamic_cast<const cpu::DropoutLayer*>(network.layer(i));
    pass.masks[i].assign(layer->mask().begin(), layer->mask().begin() + std::ptrdiff_t(count * spec.layers[std::size_t(i)].output.size()));
  }
  const auto outputs = reference::spec_forward(spec, problem.parameters64(), buffers, problem.images64(), count, pass);
  for (int i = 0; i < int(spec.layers.size()); ++i) {
    const float* actual = network.layer_output(i);
    if (actual == nullptr) continue;  // inside a fused pair
    const std::vector<double>& expected = outputs[std::size_t(i)];
    double largest = 0;
    for (const double value : expected) largest = std::max(largest, std::fabs(value));
    for (std::size_t k = 0; k < expected.size(); ++k) {
      ASSERT_NEAR(actual[k], expected[k], 2e-5 * largest + 1e-6)
          << spec.description() << (training ? " training" : " evaluation") << ": layer " << i + 1 << " element " << k;
    }
  }
}

std::vector<model::NetworkSpec> layer_kind_specs() {
  const model::Shape small{2, 7, 7};
  return {model::build_network(small, {conv(3, 3, 2, Padding::kSame, Activation::kTanh), flatten(), dense(4)}),
          model::build_network(small, {conv(3, 2, 1, Padding::kValid, Activation::kSigmoid, false), flatten(), dense(4)}),
          model::build_network(small, {conv(3, 3, 1, Padding::kSame), pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame), flatten(), dense(4)}),
          model::build_network(small, {conv(3, 3, 1, Padding::kSame), pool(LayerKind::kAvgPool2D, 3, 2, Padding::kSame), flatten(), dense(4)}),
          model::build_network(small, {pool(LayerKind::kAvgPool2D, 2, 1, Padding::kValid), flatten(), dense(4)}),
          model::build_network(small, {conv(3, 3), batch_norm(), activation(Activation::kRelu), flatten(), dense(6),
                                       batch_norm(0.9f), activation(Activation::kSigmoid), dropout(0.3f), dense(4)}),
          testing::simple_mnist_convnet(), testing::cifar_shaped(4)};
}

TEST(CpuNetworkTest, EveryLayerMatchesAFloat64LoopInEvaluation) {
  uint64_t seed = 30;
  for (const model::NetworkSpec& spec : layer_kind_specs()) expect_layers_match(spec, 3, ++seed, false);
}

TEST(CpuNetworkTest, EveryLayerMatchesAFloat64LoopInTraining) {
  uint64_t seed = 40;
  for (const model::NetworkSpec& spec : layer_kind_specs()) expect_layers_match(spec, 3, ++seed, true);
}

// Keras 3: moving = moving * momentum + batch * (1 - momentum), batch variance biased (1/N).
// Winograd F(4x4, 3x3) computes each output tile as A^T [(G w G^T) . (B^T x B)] A: the transforms'
// entries (up to 5 in B, 8 in A) scale the terms that round before they cancel, so its error may
// exceed a direct sum's several times over. The bound of expect_layers_match (2e-5 of the
// largest output) still has room: on these specs the largest error was 7.6e-7 of it with
// Winograd and 6.2e-7 with direct sums (float64 reference, seeds 41-44), and a tile, padding or
// transform fault moves outputs by their own size.
TEST(CpuNetworkTest, WinogradConvolutionsMatchAFloat64Loop) {
  const std::vector<model::NetworkSpec> specs = {
      model::build_network({16, 9, 9}, {conv(32, 3, 1, Padding::kValid), conv(16, 3, 1, Padding::kSame, Activation::kLinear),
                                        pool(LayerKind::kMaxPool2D, 2), flatten(), dense(4)}),
      model::build_network({32, 13, 13}, {conv(64, 3, 1, Padding::kValid), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)})};
  uint64_t seed = 40;
  for (const model::NetworkSpec& spec : specs) {
    cpu::CpuNetwork probe(spec, 3, cpu::CpuNetworkOptions{true});
    const auto* convolution = dynamic_cast<const cpu::Conv2DLayer*>(probe.layer(0));
    ASSERT_NE(convolution, nullptr);
    if (!convolution->winograd()) GTEST_SKIP() << "oneDNN has no Winograd kernel for " << spec.description() << " on this CPU";
    for (const bool training : {false, true}) expect_layers_match(spec, 3, ++seed, training, cpu::CpuNetworkOptions{true});
  }
}

// Only a 3x3 stride-1 convolution asks for Winograd, and only when told to.
TEST(CpuNetworkTest, WinogradIsUsedOnlyWhereAskedAndItApplies) {
  const model::Shape maps{32, 13, 13};
  const auto winograd = [&](const model::LayerSpec& layer, bool asked) {
    cpu::CpuNetwork network(model::build_network(maps, {layer, flatten(), dense(4)}), 2, cpu::CpuNetworkOptions{asked});
    return dynamic_cast<const cpu::Conv2DLayer&>(*network.layer(0)).winograd();
  };
  EXPECT_FALSE(winograd(conv(64, 3), false));
  EXPECT_FALSE(winograd(conv(64, 3, 2), true));  // stride 2
  EXPECT_FALSE(winograd(conv(64, 5), true));     // 5x5
  EXPECT_FALSE(winograd(conv(64, 2), true));     // 2x2
}

// A convolution whose pooling reads its blocked output leaves the plain copy out of a training
// step (a pass over the step's largest array nobody reads) and writes it when the layer outputs
// are asked for (features); the logits are the same bits either way.
TEST(CpuNetworkTest, AHandedOffConvolutionWritesItsPlainOutputOnlyWhenAskedFor) {
  const model::NetworkSpec spec =
      model::build_network({32, 13, 13}, {conv(64, 3), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)});
  testing::SpecProblem problem = testing::make_spec_problem(spec, 4, 50);
  cpu::CpuNetwork network(spec, 4);
  testing::run_forward(network, problem, true, false);  // builds the pooling, which takes the handoff
  ASSERT_TRUE(bool(dynamic_cast<cpu::Conv2DLayer&>(*network.layer(0)).blocked_handoff(4).output));
  const std::size_t outputs = std::size_t(4) * std::size_t(spec.layers[0].output.size());
  float* plain = const_cast<float*>(network.layer_output(0));
  std::fill(plain, plain + outputs, -7.0f);  // no ReLU output is negative
  testing::run_forward(network, problem, true, false);
  const std::vector<float> logits(network.logits(), network.logits() + 4 * 10);
  EXPECT_TRUE(std::all_of(plain, plain + outputs, [](float value) { return value == -7.0f; }));
  testing::run_forward(network, problem, true, true);
  EXPECT_TRUE(std::none_of(plain, plain + outputs, [](float value) { return value == -7.0f; }));
  EXPECT_TRUE(bitwise_equal(network.logits(), logits.data(), logits.size()));
}

TEST(CpuNetworkTest, TrainingUpdatesTheMovingStatisticsAsKerasAndEvaluationLeavesThem) {
  const model::NetworkSpec spec =
      model::build_network({2, 5, 5}, {conv(3, 3), batch_norm(0.8f), flatten(), dense(4)});
  testing::SpecProblem problem = testing::make_spec_problem(spec, 4, 50);
  const std::vector<float> before = problem.buffers;
  cpu::CpuNetwork network(spec, 4);
  testing::run_forward(network, problem, false);
  EXPECT_EQ(problem.buffers, before) << "evaluation must not touch the moving statistics";

  testing::run_forward(network, problem, true);
  const float* conv_out = network.layer_output(0);  // (4, 3, 3, 3)
  const std::size_t mean = spec.buffers[0].offset, variance = spec.buffers[1].offset;
  for (int c = 0; c < 3; ++c) {
    double sum = 0, squares = 0;
    for (int n = 0; n < 4; ++n)
      for (int p = 0; p < 9; ++p) sum += conv_out[std::size_t(n) * 27 + std::size_t(c) * 9 + std::size_t(p)];
    const double batch_mean = sum / 36;
    for (int n = 0; n < 4; ++n)
      for (int p = 0; p < 9; ++p) {
        const double d = conv_out[std::size_t(n) * 27 + std::size_t(c) * 9 + std::size_t(p)] - batch_mean;
        squares += d * d;
      }
    // float32 sums of 36 values of magnitude ~1: relative error ~1e-6; 1e-5 absolute holds.
    EXPECT_NEAR(problem.buffers[mean + std::size_t(c)], 0.8 * before[mean + std::size_t(c)] + 0.2 * batch_mean, 1e-5);
    EXPECT_NEAR(problem.buffers[variance + std::size_t(c)], 0.8 * before[variance + std::size_t(c)] + 0.2 * squares / 36, 1e-5);
  }
}

TEST(CpuNetworkTest, EvaluationIsDeterministicAndDropoutKeepsEverything) {
  const model::NetworkSpec spec = model::build_network({1, 6, 6}, {flatten(), dropout(0.5f), dense(8), batch_norm(), dense(3)});
  testing::SpecProblem problem = testing::make_spec_problem(spec, 4, 60);
  cpu::CpuNetwork network(spec, 4);
  testing::run_forward(network, problem, false);
  const std::vector<float> first(network.logits(), network.logits() + 12);
  EXPECT_TRUE(bitwise_equal(network.layer_output(1), problem.images.data(), problem.images.size()));
  problem.step += 7;  // another step's key changes nothing in evaluation
  testing::run_forward(network, problem, false);
  EXPECT_TRUE(bitwise_equal(network.logits(), first.data(), first.size()));
  testing::run_forward(network, problem, true);
  EXPECT_FALSE(bitwise_equal(network.logits(), first.data(), first.size())) << "training must differ: dropout and batch statistics";
}

std::vector<uint8_t> drawn_mask(const model::NetworkSpec& spec, int layer, uint64_t seed, int64_t step, std::vector<float>* output) {
  testing::SpecProblem problem = testing::make_spec_problem(spec, 10, 70);
  problem.seed = seed;
  problem.step = step;
  cpu::CpuNetwork network(spec, 10);
  testing::run_forward(network, problem, true);
  if (output != nullptr) {
    output->assign(network.layer_output(layer), network.layer_output(layer) + problem.images.size());
    for (std::size_t i = 0; i < problem.images.size(); ++i) {
      const float kept = problem.images[i] * (1.0f / (1.0f - 0.4f));
      EXPECT_TRUE((*output)[i] == 0.0f || (*output)[i] == kept) << "element " << i << ": inverted dropout scales by 1/(1-rate)";
    }
  }
  const auto* dropout_layer = dynamic_cast<const cpu::DropoutLayer*>(network.layer(layer));
  return std::vector<uint8_t>(dropout_layer->mask().begin(), dropout_layer->mask().begin() + std::ptrdiff_t(problem.images.size()));
}

TEST(CpuNetworkTest, DropoutMasksDependOnSeedStepAndLayerOnly) {
  const model::NetworkSpec spec =
      model::build_network({1, 30, 40}, {flatten(), dropout(0.4f), dropout(0.4f), dense(3)});
  std::vector<float> output;
  const std::vector<uint8_t> mask = drawn_mask(spec, 1, 5, 3, &output);
  EXPECT_EQ(drawn_mask(spec, 1, 5, 3, nullptr), mask) << "same seed, step and layer: same mask";
  EXPECT_NE(drawn_mask(spec, 1, 5, 4, nullptr), mask) << "next step: another mask";
  EXPECT_NE(drawn_mask(spec, 1, 6, 3, nullptr), mask) << "another seed: another mask";
  EXPECT_NE(drawn_mask(spec, 2, 5, 3, nullptr), mask) << "another layer: another mask";
  // 12,000 draws at rate 0.4: the dropped count's standard deviation is sqrt(12000 * 0.24) = 54;
  // 5 of them is 270 either side of 4,800.
  const long dropped = std::count(mask.begin(), mask.end(), uint8_t{0});
  EXPECT_NEAR(double(dropped), 4800.0, 270.0);
}

// The layer's mask is dropout_math.h's definition, element for element (what a GPU backend draws
// too): element i is kept when word i % 4 of Philox block i / 4 keeps it. 17 images of 999
// features are 16,983 elements: 4,246 blocks, past one parallel chunk (4,096 blocks) and many
// 256-block groups, the last block only three quarters used. Backward passes exactly the kept
// gradients, scaled, and zeros elsewhere.
TEST(CpuNetworkTest, DropoutDrawsDropoutMathsMaskAcrossChunksAndATail) {
  const float rate = 0.3f;
  const model::NetworkSpec spec = model::build_network({1, 27, 37}, {flatten(), dropout(rate), dense(2)});
  const int count = 17, layer = 1;
  testing::SpecProblem problem = testing::make_spec_problem(spec, count, 80);
  problem.seed = 0x123456789abcdefULL;
  problem.step = 41;
  cpu::CpuNetwork network(spec, count);
  testing::run_forward(network, problem, true);
  const auto* dropout_layer = dynamic_cast<cpu::DropoutLayer*>(network.layer(layer));
  const std::size_t elements = problem.images.size();
  ASSERT_EQ(elements, 16983u);
  const float scale = math::dropout_scale(rate);
  std::vector<float> doutput(elements), dinput(elements, std::nanf(""));
  for (std::size_t i = 0; i < elements; ++i) doutput[i] = float(i % 13) - 6.5f;
  cpu::LayerBackward backward;
  backward.count = count;
  backward.input = problem.images.data();
  backward.output = network.layer_output(layer);
  backward.doutput = doutput.data();
  backward.dinput = dinput.data();
  backward.need_dinput = true;
  network.layer(layer)->backward(backward);
  for (std::size_t i = 0; i < elements; ++i) {
    const math::DropoutBits bits = math::dropout_bits(problem.seed, problem.step, layer, i / 4);
    const bool keep = math::dropout_keeps(bits.word[i % 4], rate);
    ASSERT_EQ(dropout_layer->mask()[i], keep ? 1 : 0) << "element " << i;
    ASSERT_EQ(network.layer_output(layer)[i], keep ? problem.images[i] * scale : 0.0f) << "element " << i;
    ASSERT_EQ(dinput[i], keep ? doutput[i] * scale : 0.0f) << "element " << i;
  }
}

// Which convolutions hand their blocked output to the pooling after them: ReLU (fused into the
// convolution) and linear ones, when oneDNN computes them in a blocked layout, as its JIT
// convolutions do on every x86-64 it supports with 32 or 64 filters (nChw8c on SSE4.1 and AVX2,
// nChw16c on AVX-512); a tanh is applied on the plain output instead, so no handoff.
TEST(CpuNetworkTest, APoolingTakesTheBlockedOutputOfAReluOrLinearConvolution) {
  const model::Shape maps{32, 13, 13};
  for (const Activation activation : {Activation::kRelu, Activation::kLinear, Activation::kTanh}) {
    cpu::CpuNetwork network(model::build_network(maps, {conv(64, 3, 1, Padding::kValid, activation),
                                                        pool(LayerKind::kMaxPool2D, 2), flatten(), dense(10)}), 4);
    auto* convolution = dynamic_cast<cpu::Conv2DLayer*>(network.layer(0));
    ASSERT_NE(convolution, nullptr);
    const cpu::Conv2DLayer::BlockedHandoff handoff = convolution->blocked_handoff(4);
    EXPECT_EQ(bool(handoff.output), activation != Activation::kTanh) << model::activation_name(activation);
    EXPECT_EQ(bool(handoff.doutput), activation != Activation::kTanh) << model::activation_name(activation);
  }
}

// Data-parallel training: a rank that trains on samples [first, first + count) of a global batch
// must draw the mask one process draws for those samples, so no two ranks share a mask and the
// sum of their gradients is one process's. Three features per image: the slices start inside a
// Philox block of four elements, which the keying must handle.
TEST(CpuNetworkTest, ARanksSliceOfTheBatchDrawsOneProcesssMaskForItsSamples) {
  const model::NetworkSpec spec = model::build_network({1, 1, 3}, {flatten(), dropout(0.5f), dense(2)});
  constexpr int kBatch = 10, kFeatures = 3;
  std::vector<float> input(kBatch * kFeatures);
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = float(i + 1);
  auto mask_of = [&](int first_sample, int count) {
    cpu::DropoutLayer layer(spec, 1, kBatch);
    std::vector<float> output(std::size_t(count * kFeatures));
    cpu::LayerForward args;
    args.count = count;
    args.input = input.data() + first_sample * kFeatures;
    args.output = output.data();
    args.training = true;
    args.seed = 9;
    args.step = 4;
    args.first_sample = first_sample;
    layer.forward(args);
    return std::vector<uint8_t>(layer.mask().begin(), layer.mask().begin() + count * kFeatures);
  };
  const std::vector<uint8_t> whole = mask_of(0, kBatch);
  std::vector<uint8_t> joined;
  for (const auto& [first, count] : {std::pair{0, 3}, std::pair{3, 4}, std::pair{7, 3}}) {
    const std::vector<uint8_t> slice = mask_of(first, count);
    EXPECT_TRUE(std::equal(slice.begin(), slice.end(), whole.begin() + first * kFeatures)) << "slice from sample " << first;
    joined.insert(joined.end(), slice.begin(), slice.end());
  }
  EXPECT_EQ(joined, whole);
  EXPECT_NE(std::count(whole.begin(), whole.end(), uint8_t{0}), 0) << "a mask that drops nothing tests nothing";
  EXPECT_NE(mask_of(0, 3), mask_of(3, 3)) << "two ranks' slices of one batch draw different masks";
}

TEST(CpuNetworkTest, ABatchLargerThanTheNetworkWasBuiltForIsAnError) {
  cpu::CpuNetwork network(testing::simple_mnist_convnet(), 2);
  std::vector<float> parameters(network.spec().parameter_count, 0.0f);
  try {
    network.forward(parameters.data(), nullptr, 3, cpu::CpuNetwork::Pass{});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("3 images; it was built for 1..2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace train_gpu
