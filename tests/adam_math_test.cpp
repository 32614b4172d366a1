// Adam's per-element math (cuda/math/adam_math.h) against steps worked by hand from Keras's
// formula (tf.keras.optimizers.Adam, amsgrad off, defaults lr 1e-3, beta1 0.9, beta2 0.999,
// epsilon 1e-7):
//   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);   w <- w - lr_t m / (sqrt(v) + epsilon)
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "cuda/math/adam_math.h"
#include "host/common/random.h"
#include "host/model/cpu_threads.h"

namespace train_gpu {
namespace {

constexpr float kLearningRate = 1e-3f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-7f;
constexpr double kUnitRoundoff = 1.0 / 16777216.0;  // 2^-24

struct ExpectedStep {
  double m, v, step_size, weight;
};

// Tolerances. The hyperparameters are float32, as in Keras: 0.999f = 0.999 + 1.29e-8, so
// 1 - beta2 is 1.29e-5 (relative) below 0.001, and v and sqrt(1 - beta2^t) inherit that
// (2e-5 relative bound for v and lr_t; 0.9f's error is 50x smaller). In the update, v enters as
// sqrt(v) and lr_t as a factor, and the two shifts cancel to first order at t = 1; a bound of
// 1e-5 relative on the distance the weight moved, plus 4 roundings of w itself, covers t <= 3.
// m involves only 0.9f and a product or two: 16 u.
void run_steps(float weight, const float (&gradients)[3], const ExpectedStep (&expected)[3]) {
  const double start = weight;
  float m = 0.0f, v = 0.0f;
  for (int64_t t = 1; t <= 3; ++t) {
    const ExpectedStep& e = expected[t - 1];
    const float step_size = math::adam_step_size(kLearningRate, kBeta1, kBeta2, t);
    EXPECT_NEAR(step_size, e.step_size, 2e-5 * e.step_size) << "lr_t at t = " << t;
    weight = math::adam_update(weight, gradients[t - 1], m, v, kBeta1, kBeta2, step_size, kEpsilon);
    EXPECT_NEAR(m, e.m, 16 * kUnitRoundoff * std::fabs(e.m)) << "m at t = " << t;
    EXPECT_NEAR(v, e.v, 2e-5 * std::fabs(e.v)) << "v at t = " << t;
    const double bound = 4 * kUnitRoundoff * std::fabs(e.weight) + 1e-5 * std::fabs(e.weight - start);
    EXPECT_NEAR(weight, e.weight, bound) << "w at t = " << t;
  }
}

TEST(AdamMathTest, ThreeStepsMatchKerasWorkedByHand) {
  // w0 = 1, g = 0.5, -0.25, 0.1:
  //  t=1: m = 0.1*0.5 = 0.05;            v = 0.001*0.25 = 2.5e-4
  //       lr_1 = 1e-3 sqrt(0.001)/0.1 = 3.16227766e-4
  //       w = 1 - 3.16227766e-4 * 0.05/(0.0158113883 + 1e-7) = 0.99900000632
  //  t=2: m = 0.045 - 0.025 = 0.02;      v = 2.4975e-4 + 6.25e-5 = 3.1225e-4
  //       lr_2 = 1e-3 sqrt(1 - 0.999^2)/(1 - 0.9^2) = 1e-3 sqrt(0.001999)/0.19 = 2.35316725e-4
  //       w = 0.99900000632 - 2.35316725e-4 * 0.02/(0.0176705970 + 1e-7) = 0.99873367079
  //  t=3: m = 0.018 + 0.01 = 0.028;      v = 3.11937750e-4 + 1e-5 = 3.21937750e-4
  //       lr_3 = 1e-3 sqrt(0.002997001)/0.271 = 2.02010597e-4
  //       w = 0.99873367079 - 2.02010597e-4 * 0.028/(0.0179426239 + 1e-7) = 0.99841842898
  // (bias correction: without it the first update would be 1e-3 * 0.05/0.0158 = 3.2e-3, not 1e-3.)
  const float gradients[3] = {0.5f, -0.25f, 0.1f};
  const ExpectedStep expected[3] = {
      {0.05, 2.5e-4, 3.1622776601683816e-4, 0.9990000063245154},
      {0.02, 3.1225e-4, 2.3531672532745276e-4, 0.9987336707920792},
      {0.028, 3.2193775e-4, 2.020105974389679e-4, 0.9984184289825833},
  };
  run_steps(1.0f, gradients, expected);
}

TEST(AdamMathTest, EpsilonIsAddedToTheUncorrectedRootOfV) {
  // Keras's "epsilon hat": with g = 1e-9, sqrt(v_1) = 3.16e-11 is far below epsilon, so the
  // first step is lr_1 * 1e-10 / (3.16e-11 + 1e-7) = 3.16e-7. The paper's form (epsilon added to
  // sqrt of the bias-corrected v_hat = 1e-18) would step 1e-3 * 1e-9/(1e-9 + 1e-7) = 9.9e-6.
  //  t=1: m = 1e-10, v = 1e-21, w = -0.2 - 3.16227766e-4 * 1e-10/(3.16227766e-11 + 1e-7) = -0.20000031613
  //  t=2: m = 1.9e-10, v = 1.999e-21, w = -0.20000076303
  //  t=3: g = -3: m = 1.71e-10 - 0.3 = -0.29999999983, v = 0.009, w = -0.19936195010
  const float gradients[3] = {1e-9f, 1e-9f, -3.0f};
  const ExpectedStep expected[3] = {
      {1e-10, 1e-21, 3.1622776601683816e-4, -0.20000031612779764},
      {1.9e-10, 1.999e-21, 2.3531672532745276e-4, -0.2000007630297651},
      {-0.29999999982899994, 0.009000000000000008, 2.020105974389679e-4, -0.19936195010409866},
  };
  run_steps(-0.2f, gradients, expected);
}

TEST(AdamMathTest, MatchesTheFormulaInFloat64WithTheSameFloatHyperparameters) {
  // With the float32 constants taken as they are, the only differences left are the roundings
  // of the float arithmetic itself. m = b1 m + (1 - b1) g may cancel, so its error is bounded
  // against the magnitude recurrence |m|~ = b1 |m|~ + (1 - b1)|g|: each step adds <= 3 u of it
  // and shrinks older errors by b1, so the total stays below 3 u / (1 - b1) = 30 u of it (64 u
  // used). v has no cancellation: 64 u relative. The weight moves by lr_t m / (sqrt v + eps), so
  // its error grows each step by lr_t times m's error over sqrt(v), plus 2 u of |w| for the
  // rounding of the new weight and the quotient.
  Rng rng(17);
  for (int element = 0; element < 50; ++element) {
    float w = 2.0f * (rng.uniform01() - 0.5f), m = 0.0f, v = 0.0f;
    double w_ref = w, m_ref = 0, v_ref = 0, m_magnitude = 0, w_bound = 0;
    const double b1 = kBeta1, b2 = kBeta2, eps = kEpsilon, lr = kLearningRate;
    for (int64_t t = 1; t <= 20; ++t) {
      const float g = 0.2f * (rng.uniform01() - 0.5f);
      w = math::adam_update(w, g, m, v, kBeta1, kBeta2, math::adam_step_size(kLearningRate, kBeta1, kBeta2, t),
                            kEpsilon);
      m_ref = b1 * m_ref + (1 - b1) * g;
      m_magnitude = b1 * m_magnitude + (1 - b1) * std::fabs(double(g));
      v_ref = b2 * v_ref + (1 - b2) * double(g) * g;
      const double step = lr * std::sqrt(1 - std::pow(b2, double(t))) / (1 - std::pow(b1, double(t)));
      const double m_bound = 64 * kUnitRoundoff * m_magnitude;
      w_ref -= step * m_ref / (std::sqrt(v_ref) + eps);
      w_bound += 2 * kUnitRoundoff * std::fabs(w_ref) + step * (m_bound + 8 * kUnitRoundoff * std::fabs(m_ref)) /
                                                            (std::sqrt(v_ref) + eps);
      ASSERT_NEAR(m, m_ref, m_bound) << "t = " << t;
      ASSERT_NEAR(v, v_ref, 64 * kUnitRoundoff * v_ref) << "t = " << t;
      ASSERT_NEAR(w, w_ref, w_bound) << "t = " << t;
    }
  }
}

TEST(AdamMathTest, StepSizeStaysAccurateForLongRuns) {
  // After many steps both corrections tend to 1 and lr_t to lr; in float, 1 - 0.999^t would lose
  // all digits for small t differences, which is why adam_step_size computes in double.
  EXPECT_NEAR(math::adam_step_size(kLearningRate, kBeta1, kBeta2, 100000), 1e-3, 1e-3 * 1e-6);
  const double t = 5000;
  const double exact = 1e-3 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
  // The float constants themselves (0.999f = 0.99900001287...) shift beta2^5000 by a relative
  // 5000 * 1.3e-8 = 6e-5 of 0.0067, i.e. 4e-7 of the correction: hence 1e-6 relative.
  EXPECT_NEAR(math::adam_step_size(kLearningRate, kBeta1, kBeta2, int64_t(t)), exact, exact * 1e-6);
}

// x, rounded to float and forced through memory: no compiler may fuse it into a later add.
float rounded(float x) {
  volatile float stored = x;
  return stored;
}

TEST(AdamMathTest, EachOperationIsRoundedOnItsOwn) {
  // adam_update must give the same bits on the host and on the GPU (rounded_float.h): every
  // product rounded before it is added, never an FMA. The reference below rounds each step
  // through memory; a contracted build (nvcc's default, or g++ -ffp-contract=fast -mfma) computes
  // m = fma(b1, m, (1 - b1) g) instead, which differs in ~30% of these draws (counted, so the test
  // shows it can tell the two apart).
  Rng rng(23);
  int fused_would_differ = 0;
  for (int element = 0; element < 1000; ++element) {
    const float w0 = 0.2f * (rng.uniform01() - 0.5f);
    const float g = 2e-2f * (rng.uniform01() - 0.5f);
    const float m0 = 2e-3f * (rng.uniform01() - 0.5f);
    const float v0 = 1e-5f * rng.uniform01();
    const float step_size = math::adam_step_size(kLearningRate, kBeta1, kBeta2, 7);

    const float m_ref = rounded(rounded(kBeta1 * m0) + rounded(rounded(1.0f - kBeta1) * g));
    const float v_ref = rounded(rounded(kBeta2 * v0) + rounded(rounded(rounded(1.0f - kBeta2) * g) * g));
    const float w_ref =
        rounded(w0 - rounded(rounded(step_size * m_ref) / rounded(rounded(std::sqrt(v_ref)) + kEpsilon)));
    fused_would_differ += std::fma(kBeta1, m0, rounded(rounded(1.0f - kBeta1) * g)) != m_ref ? 1 : 0;

    float m = m0, v = v0;
    const float w = math::adam_update(w0, g, m, v, kBeta1, kBeta2, step_size, kEpsilon);
    ASSERT_EQ(m, m_ref) << "element " << element << ": m was computed with a fused multiply-add";
    ASSERT_EQ(v, v_ref) << "element " << element;
    ASSERT_EQ(w, w_ref) << "element " << element;
  }
  EXPECT_GT(fused_would_differ, 100);
}

TEST(AdamMathTest, ZeroGradientLeavesAFreshWeightUnchanged) {
  float m = 0.0f, v = 0.0f;
  const float step_size = math::adam_step_size(kLearningRate, kBeta1, kBeta2, 1);
  EXPECT_EQ(math::adam_update(0.75f, 0.0f, m, v, kBeta1, kBeta2, step_size, kEpsilon), 0.75f);
  EXPECT_EQ(m, 0.0f);
  EXPECT_EQ(v, 0.0f);
}

// Adam's moments decay into the subnormal range (below FLT_MIN = 1.18e-38) after ~750 steps
// without gradient. The CPU backend computes with FTZ/DAZ set; the device code is compiled with
// -ftz=true (cuda/CMakeLists.txt; its .ftz checked by tests/gpu/adam_ptx_test.cpp), which flushes
// subnormal inputs and results of each operation to zero the same way. This is the host half: the
// shared adam_update, in the CPU backend's mode, flushes both. (volatile: no compile-time folding,
// which would ignore the mode.)
TEST(AdamMathTest, WithDenormalsFlushedSubnormalMomentsBecomeZeroAsOnTheDevice) {
  const bool previous = cpu::flushes_denormals();
  cpu::set_flush_denormals(true);
  if (!cpu::flushes_denormals()) {
    cpu::set_flush_denormals(previous);
    GTEST_SKIP() << "this CPU has no flush-to-zero mode";
  }
  const float step_size = math::adam_step_size(kLearningRate, kBeta1, kBeta2, 800);
  volatile float subnormal = FLT_MIN / 4, just_normal = FLT_MIN * 1.05f;
  // A subnormal input reads as zero (DAZ; .ftz on the device's operands).
  float m = subnormal, v = subnormal;
  EXPECT_EQ(math::adam_update(0.5f, 0.0f, m, v, kBeta1, kBeta2, step_size, kEpsilon), 0.5f);
  EXPECT_EQ(m, 0.0f);
  EXPECT_EQ(v, 0.0f);
  // A normal moment whose decay lands below FLT_MIN (0.9 * 1.05 FLT_MIN) becomes zero (FTZ).
  float m2 = just_normal, v2 = 0.0f;
  (void)math::adam_update(0.5f, 0.0f, m2, v2, kBeta1, kBeta2, step_size, kEpsilon);
  EXPECT_EQ(m2, 0.0f);
  cpu::set_flush_denormals(false);
  // Without the mode the same decay keeps a subnormal: the flush above is the mode's doing.
  float m3 = just_normal, v3 = 0.0f;
  (void)math::adam_update(0.5f, 0.0f, m3, v3, kBeta1, kBeta2, step_size, kEpsilon);
  EXPECT_GT(m3, 0.0f);
  EXPECT_LT(m3, FLT_MIN);
  cpu::set_flush_denormals(previous);
}

// The step size is evaluated on the host (eager launches, the CPU backend) and on the device (a
// replayed CUDA graph advances t itself), and the two must agree bitwise; the device side of that
// is tests/gpu/step_math_test.cu. Here: it is the correctly rounded float of the formula, up to
// the rare t where the double result sits within its own error of a float rounding boundary.
TEST(AdamMathTest, StepSizeIsTheFormulaRoundedToFloat) {
  int off_by_one_ulp = 0;
  for (int64_t t = 1; t <= 200000; t += (t < 2000 ? 1 : 97)) {
    const long double b1 = kBeta1, b2 = kBeta2;
    const long double exact = (long double)kLearningRate * std::sqrt(1.0L - std::pow(b2, (long double)t)) /
                              (1.0L - std::pow(b1, (long double)t));
    const float step_size = math::adam_step_size(kLearningRate, kBeta1, kBeta2, t);
    const float nearest = static_cast<float>(exact);
    if (step_size != nearest) {
      ++off_by_one_ulp;
      ASSERT_TRUE(step_size == std::nextafter(nearest, 0.0f) || step_size == std::nextafter(nearest, 1.0f))
          << "t = " << t << ": " << step_size << " vs " << nearest;
    }
  }
  // The double computation carries ~1e-13 relative error at most (rounded_float.h): a float
  // result lands that close to a rounding boundary for a few t in millions.
  EXPECT_LE(off_by_one_ulp, 3);
}

TEST(AdamMathTest, PowerByRepeatedSquaringMatchesPow) {
  for (const double base : {0.9, double(0.999f), 0.5, 1.0}) {
    for (const int64_t exponent : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}, int64_t{1000}, int64_t{65537},
                                   int64_t{1} << 40}) {
      // Each squaring doubles the relative error it inherits: at most ~(exponent + 64) roundings' worth.
      const double expected = std::pow(base, double(exponent));
      const double bound = (double(exponent) + 64) * 0x1p-53 * expected;
      EXPECT_NEAR(math::power_rn(base, exponent), expected, bound) << base << "^" << exponent;
    }
  }
  EXPECT_EQ(math::power_rn(0.9, 0), 1.0);
  EXPECT_EQ(math::power_rn(0.9, 1), 0.9);
  EXPECT_EQ(math::power_rn(0.9, 2), 0.9 * 0.9);
  EXPECT_EQ(math::power_rn(0.9, 5), 0.9 * ((0.9 * 0.9) * (0.9 * 0.9)));  // 5 = 1 + 4: base times base^4
}

}  // namespace
}  // namespace train_gpu
