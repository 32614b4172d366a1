// The device-side step bookkeeping of graph replays (cuda/math/step_counters.h), run on the CPU:
// what one batch advances, the step size it computes (the host's, bitwise), PerStep's choice
// between a device value and a launch argument, and the step Dropout keys its masks on.
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

TEST(StepCounters, DropoutsStepInAReplayIsTheEagerStepsT) {
  // An eager step passes t = (steps taken) + 1; in a replay the forward pass reads the counter of
  // steps taken, which the loss kernel advances only after it. Both must key the masks on the
  // same t for every step of a resumed epoch, or a graph run would drop other elements.
  math::StepCounters counters{};
  counters.adam_step = 37;  // resumed after 37 steps
  int64_t host_steps = 37;
  for (int step = 0; step < 100; ++step) {
    const int64_t eager_t = host_steps + 1;
    ASSERT_EQ(math::forward_step(math::per_step_value(eager_t)), eager_t);
    ASSERT_EQ(math::forward_step(math::per_step_on_device<int64_t>(&counters.adam_step)), eager_t) << "step " << step;
    math::advance_counters(counters, training_batch(64));  // the loss kernel, after the forward pass
    ++host_steps;
  }
  // An evaluation batch between steps moves no step: the next training step keeps its t.
  math::StepAdvance evaluation;
  evaluation.split = 1;
  evaluation.count = 10;
  math::advance_counters(counters, evaluation);
  EXPECT_EQ(math::forward_step(math::per_step_on_device<int64_t>(&counters.adam_step)), host_steps + 1);
}

}  // namespace
}  // namespace train_gpu
