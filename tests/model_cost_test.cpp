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
