// The benchmark's FLOP counts, worked out by hand from the layer shapes.
#include "host/model/model_cost.h"

#include <gtest/gtest.h>

namespace train_gpu::model {
namespace {

TEST(ModelCost, ForwardCountsEachProductOnce) {
  // conv: 32 maps x 26 x 26 outputs x 9 taps; fc1: 5408 x 128; fc2: 128 x 10; 2 FLOPs per multiply-add.
  EXPECT_EQ(kConvForwardFlops, 2 * 32 * 26 * 26 * 9);
  EXPECT_EQ(kFc1ForwardFlops, 2 * 5408 * 128);
  EXPECT_EQ(kFc2ForwardFlops, 2 * 128 * 10);
  EXPECT_EQ(kForwardFlopsPerSample, 1776384);
}

TEST(ModelCost, TrainingAddsWeightAndInputGradientsButNoImageGradient) {
  // Dense layers: dW and dX, one forward's cost each; conv: dW only.
  EXPECT_EQ(kBackwardFlopsPerSample, 2 * 1384448 + 2 * 2560 + 389376);
  EXPECT_EQ(kTrainingFlopsPerSample, 4939776);
}

}  // namespace
}  // namespace train_gpu::model

namespace train_gpu::model {
namespace {

// The count for any spec equals the tutorial's constants on the tutorial, and for Keras's Simple
// MNIST convnet is worked by hand: conv1 2*32*26*26*1*9 = 389,376 (no input gradient: 2x);
// conv2 2*64*11*11*32*9 = 4,460,544 (3x); dense 2*1600*10 = 32,000 (3x).
TEST(ModelCost, AnySpecCountsItsConvolutionsAndDenseLayers) {
  EXPECT_EQ(training_flops_per_sample(tutorial_network()), kTrainingFlopsPerSample);
  std::vector<LayerSpec> layers(7);
  layers[0].kind = LayerKind::kConv2D, layers[0].units = 32, layers[0].kernel_h = layers[0].kernel_w = 3;
  layers[1].kind = LayerKind::kMaxPool2D, layers[1].kernel_h = layers[1].kernel_w = 2;
  layers[2].kind = LayerKind::kConv2D, layers[2].units = 64, layers[2].kernel_h = layers[2].kernel_w = 3;
  layers[3].kind = LayerKind::kMaxPool2D, layers[3].kernel_h = layers[3].kernel_w = 2;
  layers[4].kind = LayerKind::kFlatten;
  layers[5].kind = LayerKind::kDropout, layers[5].rate = 0.5f;
  layers[6].kind = LayerKind::kDense, layers[6].units = 10;
  const NetworkSpec spec = build_network(Shape{1, 28, 28}, layers);
  EXPECT_EQ(training_flops_per_sample(spec), 2 * 389376LL + 3 * 4460544LL + 3 * 32000LL);
}

}  // namespace
}  // namespace train_gpu::model
