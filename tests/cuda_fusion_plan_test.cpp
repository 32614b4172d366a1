// CPU tests of what --kernels fused and --pooling cudnn change in a spec network
// (cuda/network/fusion_plan.h), without a device: which Dense layers take cuBLASLt epilogues,
// which Conv2D + MaxPooling2D pairs fold the bias and ReLU into the pooling kernels, which pooling
// layers cuDNN takes, and the refusal of those it cannot pool as Keras does.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/network/fusion_plan.h"
#include "host/common/error.h"
#include "support/example_specs.h"

namespace train_gpu {
namespace {

using namespace testing::layers;
using cuda::FusionPlan;
using cuda::KernelSet;
using cuda::LayerFusion;
using cuda::plan_fusion;
using cuda::PoolingKind;

// One line per layer that something changes, "name: what, ...", so a failure shows the whole plan.
std::string summary(const FusionPlan& plan) {
  std::string text;
  for (std::size_t i = 0; i < plan.layers.size(); ++i) {
    const LayerFusion& f = plan.layers[i];
    std::string parts;
    const auto add = [&](bool on, const char* word) {
      if (on) parts += (parts.empty() ? "" : ",") + std::string(word);
    };
    add(f.epilogue_forward, "forward");
    add(f.epilogue_weight_bias, "weight+bias");
    add(f.epilogue_input_relu, "input-relu");
    add(f.relu_mask_for_next, "mask-for-next");
    add(f.bias_relu_in_pooling, "raw-conv");
    add(f.pools_bias_relu, "pool-bias-relu");
    add(f.cudnn_pooling, "cudnn");
    if (!parts.empty()) text += std::to_string(i) + ":" + parts + " ";
  }
  return text;
}

std::vector<model::NetworkSpec> every_spec() {
  return {testing::simple_mnist_convnet(), testing::two_dense_relu(), testing::cifar_shaped(8),
          model::tutorial_network()};
}

TEST(FusionPlanTest, TheClassicSetWithOurPoolingChangesNothing) {
  for (const model::NetworkSpec& spec : every_spec()) {
    const FusionPlan plan = plan_fusion(spec, KernelSet::kClassic, PoolingKind::kFused);
    EXPECT_EQ(plan.layers.size(), spec.layers.size());
    EXPECT_FALSE(plan.any()) << spec.description() << ": " << summary(plan);
  }
}

TEST(FusionPlanTest, TheSimpleMnistConvnetFusesItsEvenConvolutionPairAndItsLastDense) {
  // conv 26x26 relu -> pool 2 (even: fused) -> conv 11x11 relu -> pool 2 (odd side: Keras
  // floors, the fused kernel needs whole windows) -> flatten -> dropout -> dense softmax (linear
  // here, folded into the loss; after a Dropout, so no input-gradient epilogue).
  const model::NetworkSpec spec = testing::simple_mnist_convnet();
  const FusionPlan plan = plan_fusion(spec, KernelSet::kFused, PoolingKind::kFused);
  EXPECT_EQ(summary(plan), "0:raw-conv 1:pool-bias-relu 6:forward,weight+bias ");
  EXPECT_TRUE(plan.any());
}

TEST(FusionPlanTest, ADenseAfterADenseReluTakesOverItsMaskAndBiasGradient) {
  // conv 10x10 relu + pool 2 fused; dense 32 relu, dense 16 relu, dense 10: each after a Dense
  // relu masks its input gradient, the first one's mask and bias gradient go to the second, the
  // second's to the third.
  const model::NetworkSpec spec = testing::two_dense_relu();
  const FusionPlan plan = plan_fusion(spec, KernelSet::kFused, PoolingKind::kFused);
  EXPECT_EQ(summary(plan),
            "0:raw-conv 1:pool-bias-relu 3:forward,weight+bias,mask-for-next "
            "4:forward,weight+bias,input-relu,mask-for-next 5:forward,weight+bias,input-relu ");
}

TEST(FusionPlanTest, TheTutorialsSpecPlansWhatItsHandFusedBackendRuns) {
  // Not run through this plan (make_backend gives the tutorial its own backend), but the plan
  // must recognize the same pairs the hand-written path fuses.
  const model::NetworkSpec& spec = model::tutorial_network();
  const FusionPlan plan = plan_fusion(spec, KernelSet::kFused, PoolingKind::kFused);
  EXPECT_EQ(summary(plan),
            "0:raw-conv 1:pool-bias-relu 3:forward,weight+bias,mask-for-next 4:forward,weight+bias,input-relu ");
}

TEST(FusionPlanTest, WhatTheFusedKernelsCannotDoStaysClassic) {
  struct Case {
    const char* why;
    model::Shape input;
    std::vector<model::LayerSpec> layers;
  };
  const Case cases[] = {
      {"a convolution without ReLU", {1, 8, 8}, {conv(2, 3, 1, Padding::kValid, Activation::kTanh), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(3)}},
      {"a convolution without bias", {1, 8, 8}, {conv(2, 3, 1, Padding::kValid, Activation::kRelu, false), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(3)}},
      {"average pooling", {1, 8, 8}, {conv(2, 3), pool(LayerKind::kAvgPool2D, 2), flatten(), dense(3)}},
      {"a 3x3 window", {1, 8, 8}, {conv(2, 3), pool(LayerKind::kMaxPool2D, 3), flatten(), dense(3)}},
      {"stride 1", {1, 8, 8}, {conv(2, 3), pool(LayerKind::kMaxPool2D, 2, 1), flatten(), dense(3)}},
      {"an odd side", {1, 9, 9}, {conv(2, 3), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(3)}},
      {"H != W", {1, 8, 10}, {conv(2, 3), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(3)}},
      {"same padding that pads (odd side)", {1, 8, 8}, {conv(2, 2), pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame), flatten(), dense(3)}},
      {"a Dense with tanh", {4, 1, 1}, {dense(8, Activation::kTanh), dense(3)}},
      {"a Dense without bias", {4, 1, 1}, {dense(8, Activation::kRelu, false), dense(3, Activation::kLinear, false)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    const model::NetworkSpec spec = model::build_network(c.input, c.layers);
    const FusionPlan plan = plan_fusion(spec, KernelSet::kFused, PoolingKind::kFused);
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      const model::LayerSpec& layer = spec.layers[i];
      EXPECT_FALSE(plan.layers[i].bias_relu_in_pooling) << summary(plan);
      EXPECT_FALSE(plan.layers[i].pools_bias_relu) << summary(plan);
      if (layer.kind == LayerKind::kDense && (layer.activation == Activation::kTanh || !layer.use_bias)) {
        EXPECT_FALSE(plan.layers[i].epilogue_forward || plan.layers[i].epilogue_weight_bias) << summary(plan);
        EXPECT_FALSE(plan.layers[i].relu_mask_for_next) << summary(plan);
      }
      EXPECT_FALSE(plan.layers[i].epilogue_input_relu) << summary(plan);
    }
  }
  // The last Dense of the tanh case still fuses on its own, without the input-gradient epilogue.
  const model::NetworkSpec tanh = model::build_network({4, 1, 1}, {dense(8, Activation::kTanh), dense(4)});
  EXPECT_EQ(summary(plan_fusion(tanh, KernelSet::kFused, PoolingKind::kFused)), "1:forward,weight+bias ");
}

TEST(FusionPlanTest, TheFusedPoolingTakesNoMoreChannelsThanItsBackwardGridHasRows) {
  // The fused backward sums the convolution's bias gradient over a grid (chunks, channels), and
  // gridDim.y is at most 65535: one more channel would fail the launch ("invalid configuration
  // argument") on the GPU, so that pair keeps the classic kernels (one block per channel, grid x).
  ASSERT_EQ(cuda::kMaxSpreadChannels, 65535);
  for (const int channels : {cuda::kMaxSpreadChannels, cuda::kMaxSpreadChannels + 1}) {
    SCOPED_TRACE(channels);
    const model::NetworkSpec spec = model::build_network(
        {1, 2, 2}, {conv(channels, 1), pool(LayerKind::kMaxPool2D, 2), flatten(), dense(3, Activation::kLinear, false)});
    const FusionPlan plan = plan_fusion(spec, KernelSet::kFused, PoolingKind::kFused);
    EXPECT_EQ(summary(plan), channels <= cuda::kMaxSpreadChannels ? "0:raw-conv 1:pool-bias-relu " : "");
  }
}

TEST(FusionPlanTest, ATensorOffTheSixteenByteGridKeepsItsDenseClassic) {
  // On 5 features: dense(3) has its weight's 15 floats at 0 and its bias at 15, dense(4) its
  // weight at 18: neither a multiple of 4 floats, so cuBLASLt's 16-byte-aligned plans take
  // neither layer. On 4 features every offset is a multiple of 4 and both fuse.
  const model::NetworkSpec off = model::build_network({5, 1, 1}, {dense(3, Activation::kRelu), dense(4)});
  ASSERT_EQ(off.bias_offset(off.layers[0]), 15);
  ASSERT_EQ(off.parameter_offset(off.layers[1], 0), 18u);
  EXPECT_EQ(summary(plan_fusion(off, KernelSet::kFused, PoolingKind::kFused)), "");
  const model::NetworkSpec on = model::build_network({4, 1, 1}, {dense(4, Activation::kRelu), dense(4)});
  EXPECT_EQ(summary(plan_fusion(on, KernelSet::kFused, PoolingKind::kFused)),
            "0:forward,weight+bias,mask-for-next 1:forward,weight+bias,input-relu ");
}

TEST(FusionPlanTest, CudnnPoolingTakesEveryPoolingLayerItCanPadAsKerasDoes) {
  const model::NetworkSpec mnist = testing::simple_mnist_convnet();
  EXPECT_EQ(summary(plan_fusion(mnist, KernelSet::kClassic, PoolingKind::kCudnn)), "1:cudnn 3:cudnn ");
  // With the fused set too the convolution keeps its bias + ReLU: cuDNN pools, as in the tutorial's backend.
  EXPECT_EQ(summary(plan_fusion(mnist, KernelSet::kFused, PoolingKind::kCudnn)),
            "1:cudnn 3:cudnn 6:forward,weight+bias ");
  // Symmetric same padding (3x3, stride 1: one cell each side) is cuDNN's own, max and average.
  const model::NetworkSpec same = model::build_network(
      {2, 7, 7}, {pool(LayerKind::kMaxPool2D, 3, 1, Padding::kSame), pool(LayerKind::kAvgPool2D, 3, 1, Padding::kSame),
                  flatten(), dense(3)});
  ASSERT_EQ(same.layers[0].pad_top, 1);
  ASSERT_EQ(same.layers[0].pad_bottom, 1);
  EXPECT_EQ(summary(plan_fusion(same, KernelSet::kClassic, PoolingKind::kCudnn)), "0:cudnn 1:cudnn ");
}

TEST(FusionPlanTest, CudnnPoolingRefusesTensorFlowsAsymmetricSamePaddingNamingTheLayer) {
  // cifar_shaped's average pooling: 3x3, stride 2, same on 16x16 pads 0 top, 1 bottom.
  const model::NetworkSpec cifar = testing::cifar_shaped(8);
  const model::LayerSpec& average = cifar.layers[4];
  ASSERT_EQ(average.kind, LayerKind::kAvgPool2D);
  ASSERT_NE(average.pad_top, average.pad_bottom);
  try {
    plan_fusion(cifar, KernelSet::kClassic, PoolingKind::kCudnn);
    FAIL() << "asymmetric padding went to cuDNN";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("--pooling cudnn"), std::string::npos) << message;
    EXPECT_NE(message.find(average.name), std::string::npos) << message;
    EXPECT_NE(message.find("0 top/1 bottom"), std::string::npos) << message;
    EXPECT_NE(message.find("use --pooling fused"), std::string::npos) << message;
  }
  // Our own kernels take it.
  EXPECT_NO_THROW(plan_fusion(cifar, KernelSet::kFused, PoolingKind::kFused));
}

}  // namespace
}  // namespace train_gpu
