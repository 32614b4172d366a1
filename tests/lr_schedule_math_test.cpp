// Every learning-rate schedule (cuda/math/lr_schedule_math.h) against its closed form, worked in
// double here, at chosen steps: the first and last step of an epoch, the step a decay starts, the
// warm-up's end, the cosine's middle and end, and past its horizon. The function rounds the double
// result to float once, so it must equal the float of the closed form to within one rounding
// (relative 2^-24) -- for the cosine, whose cos() may differ from libm's by an ulp of a double,
// too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "cuda/math/lr_schedule_math.h"

namespace train_gpu {
namespace {

constexpr double kRounding = 1.0 / 16777216.0;
constexpr int64_t kStepsPerEpoch = 100;

math::LrSchedule schedule_of(math::LrScheduleKind kind) {
  math::LrSchedule schedule;
  schedule.kind = kind;
  schedule.steps_per_epoch = kStepsPerEpoch;
  return schedule;
}

void expect_rate(const math::LrSchedule& schedule, float lr, float scale, int64_t t, double expected) {
  const float got = math::scheduled_learning_rate(schedule, lr, scale, t);
  EXPECT_NEAR(got, expected, kRounding * std::fabs(expected) + 1e-30) << "step " << t;
}

TEST(LrSchedule, ConstantIsTheLearningRateItselfWhateverTheScale) {
  const math::LrSchedule constant = schedule_of(math::LrScheduleKind::kConstant);
  for (const int64_t t : {1, 100, 101, 123456}) EXPECT_EQ(math::scheduled_learning_rate(constant, 1e-3f, 0.0f, t), 1e-3f);
}

TEST(LrSchedule, StepDecaysByGammaEveryStepEpochs) {
  math::LrSchedule step = schedule_of(math::LrScheduleKind::kStep);
  step.step_epochs = 3;
  step.gamma = 0.5f;
  // e = (t - 1) / 100 epochs done; lr * 0.5^floor(e / 3).
  expect_rate(step, 0.1f, 1.0f, 1, 0.1f);
  expect_rate(step, 0.1f, 1.0f, 300, 0.1f);                 // last step of epoch 3
  expect_rate(step, 0.1f, 1.0f, 301, double(0.1f) * 0.5);   // first of epoch 4
  expect_rate(step, 0.1f, 1.0f, 601, double(0.1f) * 0.25);
}

TEST(LrSchedule, ExponentialDecaysByGammaEachEpoch) {
  math::LrSchedule exponential = schedule_of(math::LrScheduleKind::kExponential);
  exponential.gamma = 0.9f;
  expect_rate(exponential, 0.01f, 1.0f, 100, 0.01f);
  expect_rate(exponential, 0.01f, 1.0f, 101, double(0.01f) * double(0.9f));
  expect_rate(exponential, 0.01f, 1.0f, 1001, double(0.01f) * std::pow(double(0.9f), 10));
}

TEST(LrSchedule, CosineWarmsUpLinearlyThenFollowsTheHalfCosineToTheMinimum) {
  math::LrSchedule cosine = schedule_of(math::LrScheduleKind::kCosine);
  cosine.warmup_epochs = 1;
  cosine.decay_epochs = 5;
  cosine.min_lr = 1e-4f;
  const double lr = double(1e-3f), lr_min = double(1e-4f);
  const double pi = 3.14159265358979323846;
  // Warm-up: lr * t / 100 for t <= 100.
  expect_rate(cosine, 1e-3f, 1.0f, 1, lr / 100);
  expect_rate(cosine, 1e-3f, 1.0f, 50, lr / 2);
  expect_rate(cosine, 1e-3f, 1.0f, 100, lr);
  // Then k = t - 101 of D = 400: lr_min + (lr - lr_min) (1 + cos(pi k / D)) / 2.
  auto closed = [&](int64_t t) {
    const double k = double(std::min<int64_t>(t - 101, 400));
    return lr_min + (lr - lr_min) * (1.0 + std::cos(pi * k / 400.0)) / 2.0;
  };
  for (const int64_t t : {101, 201, 301, 350, 500, 501, 5000}) expect_rate(cosine, 1e-3f, 1.0f, t, closed(t));
  expect_rate(cosine, 1e-3f, 1.0f, 301, (lr + lr_min) / 2);  // the middle
  expect_rate(cosine, 1e-3f, 1.0f, 501, lr_min);              // the end, and after it
}

TEST(LrSchedule, CosineWithoutWarmupStartsAtTheLearningRate) {
  math::LrSchedule cosine = schedule_of(math::LrScheduleKind::kCosine);
  cosine.decay_epochs = 2;
  EXPECT_EQ(math::scheduled_learning_rate(cosine, 1e-3f, 1.0f, 1), 1e-3f);
  expect_rate(cosine, 1e-3f, 1.0f, 101, double(1e-3f) / 2);
}

TEST(LrSchedule, PlateauIsTheRateTimesTheScale) {
  const math::LrSchedule plateau = schedule_of(math::LrScheduleKind::kPlateau);
  EXPECT_EQ(math::scheduled_learning_rate(plateau, 1e-3f, 1.0f, 77), 1e-3f);
  expect_rate(plateau, 1e-3f, 0.1f, 77, double(1e-3f) * double(0.1f));
  expect_rate(plateau, 1e-3f, 0.01f, 9999, double(1e-3f) * double(0.01f));
}

}  // namespace
}  // namespace train_gpu
