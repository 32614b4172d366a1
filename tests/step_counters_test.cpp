// The device-side step bookkeeping of graph replays (cuda/math/step_counters.h), run on the CPU:
// what one batch advances, the step size it computes (the host's, bitwise), and PerStep's choice
// between a device value and a launch argument.
#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/math/adam_math.h"
#include "cuda/math/step_counters.h"

namespace train_gpu {
namespace {

math::StepAdvance training_batch(int count) {
  math::StepAdvance advance;
  advance.split = 0;
  advance.count = count;
  advance.adam = true;
  advance.optimizer = math::OptimizerConfig{};  // Adam at Keras's defaults: lr 1e-3, betas 0.9 and 0.999
  return advance;
}

TEST(StepCounters, AnEpochOfTrainingStepsMovesTheCursorAndCountsAdamSteps) {
  // 60,000 = 937 x 64 + 32: the cursor ends at the pass size, t at 938, and every step's size is
  // what the host's eager launch passes for that t, to the bit.
  math::StepCounters counters{};
  counters.adam_step = 5;  // a resumed run
  for (int step = 0; step < 938; ++step) {
    const int count = step < 937 ? 64 : 32;
    EXPECT_EQ(counters.cursor[0], int64_t{64} * step);
    math::advance_counters(counters, training_batch(count));
    ASSERT_EQ(counters.adam_step, 5 + step + 1);
    ASSERT_EQ(counters.adam_step_size, math::adam_step_size(1e-3f, 0.9f, 0.999f, counters.adam_step));
  }
  EXPECT_EQ(counters.cursor[0], 60000);
  EXPECT_EQ(counters.cursor[1], 0);
}

TEST(StepCounters, AnEvaluationBatchMovesOnlyItsSplitsCursor) {
  math::StepCounters counters{};
  counters.adam_step = 7;
  counters.adam_step_size = 0.5f;
  math::StepAdvance evaluation;
  evaluation.split = 1;
  evaluation.count = 100;
  math::advance_counters(counters, evaluation);
  math::advance_counters(counters, evaluation);
  EXPECT_EQ(counters.cursor[1], 200);
  EXPECT_EQ(counters.cursor[0], 0);
  EXPECT_EQ(counters.adam_step, 7);
  EXPECT_EQ(counters.adam_step_size, 0.5f);
}

TEST(StepCounters, PerStepReadsTheDeviceValueWhenGivenOne) {
  const int64_t on_device = 1234;
  EXPECT_EQ(math::per_step_value<int64_t>(42).get(), 42);
  EXPECT_EQ(math::per_step_on_device(&on_device).get(), 1234);
  const float step_size = 0.25f;
  EXPECT_EQ(math::per_step_on_device(&step_size).get(), 0.25f);
}

}  // namespace
}  // namespace train_gpu
