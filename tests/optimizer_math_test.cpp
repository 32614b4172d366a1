// SGD, RMSprop and AdamW's per-element math (cuda/math/sgd_math.h, rmsprop_math.h, adamw_math.h)
// against three steps worked in float64 from Keras 3's update_step formulas (written in those
// headers), and the CPU's arena loop (host/model/cpu_optimizer.h) against the per-element math.
// Start w = 1, gradients 0.5, -0.25, 1.
//
// Tolerances: the float32 code rounds each of a handful of operations (u = 2^-24 relative) and
// its hyperparameters are float32 (0.9f = 0.9 + 2.4e-8; 0.01f = 0.01 - 2.2e-10, 2.2e-8
// relative); with at most ~12 roundings per step and 3 steps, 64 u (3.8e-6) relative of the
// value bounds every error here, and the weights (near 1) get 64 u absolute.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda/math/adamw_math.h"
#include "cuda/math/clip_math.h"
#include "cuda/math/optimizer_math.h"
#include "cuda/math/rmsprop_math.h"
#include "cuda/math/sgd_math.h"
#include "host/common/random.h"
#include "host/model/cpu_optimizer.h"

namespace train_gpu {
namespace {

constexpr double kTolerance = 64.0 / 16777216.0;
constexpr float kGradients[3] = {0.5f, -0.25f, 1.0f};

TEST(OptimizerMath, SgdWithoutMomentumIsPlainGradientDescent) {
  // w - lr g with lr 0.1: 1 - 0.05 = 0.95, + 0.025 = 0.975, - 0.1 = 0.875.
  const double expected[3] = {0.95, 0.975, 0.875};
  float w = 1.0f, velocity = 7.0f;
  for (int t = 0; t < 3; ++t) {
    w = math::sgd_update(w, kGradients[t], velocity, 0.1f, 0.0f, false);
    EXPECT_NEAR(w, expected[t], kTolerance) << "t = " << t + 1;
  }
  EXPECT_EQ(velocity, 7.0f) << "no momentum: the slot is not touched";
}

TEST(OptimizerMath, SgdMomentumMatchesKerasByHand) {
  // velocity = 0.9 velocity - 0.1 g: -0.05, -0.045 + 0.025 = -0.02, -0.018 - 0.1 = -0.118;
  // w += velocity: 0.95, 0.93, 0.812.
  const double velocities[3] = {-0.05, -0.02, -0.118};
  const double weights[3] = {0.95, 0.93, 0.812};
  float w = 1.0f, velocity = 0.0f;
  for (int t = 0; t < 3; ++t) {
    w = math::sgd_update(w, kGradients[t], velocity, 0.1f, 0.9f, false);
    EXPECT_NEAR(velocity, velocities[t], kTolerance * std::fabs(velocities[t]) + 1e-9) << "t = " << t + 1;
    EXPECT_NEAR(w, weights[t], kTolerance) << "t = " << t + 1;
  }
}

TEST(OptimizerMath, SgdNesterovMatchesKerasByHand) {
  // Same velocities; w += 0.9 velocity - 0.1 g: 1 - 0.045 - 0.05 = 0.905,
  // 0.905 - 0.018 + 0.025 = 0.912, 0.912 - 0.1062 - 0.1 = 0.7058.
  const double weights[3] = {0.905, 0.912, 0.7058};
  float w = 1.0f, velocity = 0.0f;
  for (int t = 0; t < 3; ++t) {
    w = math::sgd_update(w, kGradients[t], velocity, 0.1f, 0.9f, true);
    EXPECT_NEAR(w, weights[t], kTolerance) << "t = " << t + 1;
  }
}

TEST(OptimizerMath, RmspropMatchesKerasByHand) {
  // lr 0.01, rho 0.9, epsilon 1e-7 inside the root. velocity = 0.9 v + 0.1 g^2: 0.025, 0.02875,
  // 0.125875; increment = 0.01 g / sqrt(velocity + 1e-7); momentum 0.5: mom = 0.5 mom + increment.
  const double velocities[3] = {0.025, 0.02875, 0.125875};
  const double plain[3] = {0.9683772866436797, 0.983121456617157, 0.9549356748047833};
  const double with_momentum[3] = {0.9683772866436797, 0.9673100999389969, 0.9385907247742816};
  const double momenta[3] = {0.031622713356320324, 0.0010671867046828896, 0.028719375164715212};
  float w = 1.0f, velocity = 0.0f, unused = 3.0f;
  float w2 = 1.0f, velocity2 = 0.0f, mom = 0.0f;
  for (int t = 0; t < 3; ++t) {
    w = math::rmsprop_update(w, kGradients[t], velocity, unused, 0.01f, 0.9f, 0.0f, 1e-7f);
    w2 = math::rmsprop_update(w2, kGradients[t], velocity2, mom, 0.01f, 0.9f, 0.5f, 1e-7f);
    EXPECT_NEAR(velocity, velocities[t], kTolerance * velocities[t]) << "t = " << t + 1;
    EXPECT_NEAR(w, plain[t], kTolerance) << "t = " << t + 1;
    EXPECT_NEAR(w2, with_momentum[t], kTolerance) << "t = " << t + 1;
    EXPECT_NEAR(mom, momenta[t], kTolerance * momenta[t]) << "t = " << t + 1;
  }
  EXPECT_EQ(unused, 3.0f) << "no momentum: the momentum slot is not touched";
}

TEST(OptimizerMath, AdamwDecaysByTheLearningRateThenTakesAnAdamStep) {
  // lr 1e-3, weight_decay 0.004: w -= w * 0.004 * 1e-3 first (0.999996 at t = 1), then Adam
  // (m, v and the bias-corrected step size as adam_math_test.cpp works them).
  const double m_expected[3] = {0.05, 0.02, 0.118};
  const double v_expected[3] = {0.00025, 0.00031225, 0.00131193775};
  const double weights[3] = {0.9989960063245154, 0.9987256748080539, 0.998063570122045};
  float w = 1.0f, m = 0.0f, v = 0.0f;
  const math::OptimizerConfig adamw{math::OptimizerKind::kAdamW};
  for (int t = 1; t <= 3; ++t) {
    const math::OptimizerStep step = math::optimizer_step(adamw, 1e-3f, t);
    w = math::adamw_update(w, kGradients[t - 1], m, v, 0.9f, 0.999f, step.step_size, 1e-7f, step.learning_rate, 0.004f);
    // v carries 0.999f's relative error in 1 - beta2 (1.3e-5, adam_math_test.cpp), and so does the step.
    EXPECT_NEAR(m, m_expected[t - 1], kTolerance * m_expected[t - 1]) << "t = " << t;
    EXPECT_NEAR(v, v_expected[t - 1], 2e-5 * v_expected[t - 1]) << "t = " << t;
    EXPECT_NEAR(w, weights[t - 1], 1e-5 * (1.0 - weights[t - 1]) + kTolerance) << "t = " << t;
  }
}

TEST(OptimizerMath, AdamwWithoutDecayIsAdamToTheBit) {
  float w1 = 0.3f, m1 = 0.0f, v1 = 0.0f, w2 = 0.3f, m2 = 0.0f, v2 = 0.0f;
  for (int t = 1; t <= 3; ++t) {
    const float step_size = math::adam_step_size(1e-3f, 0.9f, 0.999f, t);
    w1 = math::adam_update(w1, kGradients[t - 1], m1, v1, 0.9f, 0.999f, step_size, 1e-7f);
    w2 = math::adamw_update(w2, kGradients[t - 1], m2, v2, 0.9f, 0.999f, step_size, 1e-7f, 1e-3f, 0.0f);
    EXPECT_EQ(w1, w2);
  }
}

TEST(OptimizerMath, TheStepSizeIsAdamsForAdamAndTheRateForTheOthers) {
  for (const math::OptimizerKind kind : {math::OptimizerKind::kSgd, math::OptimizerKind::kRmsprop}) {
    math::OptimizerConfig config;
    config.kind = kind;
    const math::OptimizerStep step = math::optimizer_step(config, 0.25f, 7);
    EXPECT_EQ(step.learning_rate, 0.25f);
    EXPECT_EQ(step.step_size, 0.25f);
  }
  const math::OptimizerStep adam = math::optimizer_step(math::OptimizerConfig{}, 1e-3f, 7);
  EXPECT_EQ(adam.step_size, math::adam_step_size(1e-3f, 0.9f, 0.999f, 7));
  EXPECT_EQ(math::default_learning_rate(math::OptimizerKind::kSgd), 0.01f);
  EXPECT_EQ(math::default_learning_rate(math::OptimizerKind::kRmsprop), 1e-3f);
}

// The CPU loop over an arena (any size: 1000 here, not the tutorial's) is the per-element math,
// bit for bit, for every optimizer, with and without a clipping factor.
TEST(CpuOptimizer, TheArenaLoopIsThePerElementMathForEveryOptimizer) {
  constexpr std::size_t kCount = 1000;
  Rng rng(5, 0);
  std::vector<float> weights(kCount), gradients(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    weights[i] = float(rng.uniform01() - 0.5);
    gradients[i] = float(rng.uniform01() - 0.5);
  }
  for (const math::OptimizerKind kind : {math::OptimizerKind::kAdam, math::OptimizerKind::kAdamW,
                                         math::OptimizerKind::kSgd, math::OptimizerKind::kRmsprop}) {
    for (const float scale : {1.0f, 0.5f}) {
      math::OptimizerConfig config;
      config.kind = kind;
      config.momentum = 0.9f;
      config.nesterov = kind == math::OptimizerKind::kSgd;
      std::vector<float> w = weights, slot0(kCount, 0.01f), slot1(kCount, 0.02f);
      std::vector<float> w_ref = weights, slot0_ref = slot0, slot1_ref = slot1;
      const math::OptimizerStep step = math::optimizer_step(config, 0.01f, 3);
      cpu::optimizer_update(config, step, scale, 0, kCount, w.data(), gradients.data(), slot0.data(), slot1.data());
      for (std::size_t i = 0; i < kCount; ++i) {
        const float g = scale == 1.0f ? gradients[i] : gradients[i] * scale;
        switch (kind) {
          case math::OptimizerKind::kAdam:
            w_ref[i] = math::adam_update(w_ref[i], g, slot0_ref[i], slot1_ref[i], 0.9f, 0.999f, step.step_size, 1e-7f);
            break;
          case math::OptimizerKind::kAdamW:
            w_ref[i] = math::adamw_update(w_ref[i], g, slot0_ref[i], slot1_ref[i], 0.9f, 0.999f, step.step_size, 1e-7f,
                                          step.learning_rate, config.weight_decay);
            break;
          case math::OptimizerKind::kSgd:
            w_ref[i] = math::sgd_update(w_ref[i], g, slot0_ref[i], step.learning_rate, 0.9f, true);
            break;
          case math::OptimizerKind::kRmsprop:
            w_ref[i] = math::rmsprop_update(w_ref[i], g, slot1_ref[i], slot0_ref[i], step.learning_rate, 0.9f, 0.9f, 1e-7f);
            break;
        }
      }
      EXPECT_EQ(w, w_ref) << "kind " << int(kind) << " scale " << scale;
      EXPECT_EQ(slot0, slot0_ref) << "kind " << int(kind) << " scale " << scale;
      EXPECT_EQ(slot1, slot1_ref) << "kind " << int(kind) << " scale " << scale;
    }
  }
}

TEST(CpuOptimizer, ClippingScalesToTheBoundOnlyAboveIt) {
  // Gradients (3, 4): norm 5. Bound 10: untouched (exactly 1); bound 2.5: halved.
  const float gradients[2] = {3.0f, 4.0f};
  const double squares = cpu::sum_of_squares(gradients, 2);
  EXPECT_EQ(squares, 25.0);
  EXPECT_EQ(math::clip_scale(squares, 10.0f), 1.0f);
  EXPECT_EQ(math::clip_scale(squares, 5.0f), 1.0f);
  EXPECT_EQ(math::clip_scale(squares, 2.5f), 0.5f);
  // Not a power of two: the factor is the float nearest to the double quotient 1 / 3.
  EXPECT_EQ(math::clip_scale(225.0, 5.0f), static_cast<float>(1.0 / 3.0));
  // A NaN norm leaves the gradients as they are, for the non-finite check to report.
  EXPECT_EQ(math::clip_scale(std::nan(""), 1.0f), 1.0f);
}

}  // namespace
}  // namespace train_gpu
