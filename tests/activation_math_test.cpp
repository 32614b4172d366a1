// ReLU, its gradient and pixel scaling (cuda/math/activation_math.h): the per-element math
// both backends share, checked exactly — there is no rounding to allow for.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "cuda/math/activation_math.h"

namespace train_gpu {
namespace {

TEST(ActivationMathTest, ReluPassesPositivesAndZeroesTheRest) {
  EXPECT_EQ(math::relu(2.5f), 2.5f);
  EXPECT_EQ(math::relu(std::numeric_limits<float>::denorm_min()), std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(math::relu(0.0f), 0.0f);
  EXPECT_EQ(math::relu(-1e-30f), 0.0f);
  EXPECT_EQ(math::relu(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(math::relu(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  // -0.0 maps to +0.0 (not -0.0): the output of relu is never negative, not even in sign.
  EXPECT_FALSE(std::signbit(math::relu(-0.0f)));
}

TEST(ActivationMathTest, ReluBackwardGatesOnThePositiveOutput) {
  EXPECT_EQ(math::relu_backward(3.0f, -0.7f), -0.7f);
  EXPECT_EQ(math::relu_backward(1e-38f, 5.0f), 5.0f);
  EXPECT_EQ(math::relu_backward(0.0f, 5.0f), 0.0f);  // the kink: gradient 0, as TensorFlow
  EXPECT_EQ(math::relu_backward(-0.0f, 5.0f), 0.0f);
  // A non-finite upstream gradient passes through where the unit is active, so the backend's
  // finiteness check sees it.
  EXPECT_TRUE(std::isnan(math::relu_backward(1.0f, std::numeric_limits<float>::quiet_NaN())));
}

TEST(ActivationMathTest, ScalePixelIsTheCorrectlyRoundedQuotientBy255) {
  EXPECT_EQ(math::scale_pixel(0), 0.0f);
  EXPECT_EQ(math::scale_pixel(255), 1.0f);
  float previous = -1.0f;
  for (int pixel = 0; pixel < 256; ++pixel) {
    const float scaled = math::scale_pixel(static_cast<uint8_t>(pixel));
    // IEEE division is correctly rounded: the float nearest to pixel / 255, i.e. within half an
    // ulp of the exact quotient (the double quotient is exact enough to stand for it).
    const double exact = double(pixel) / 255.0;
    EXPECT_LE(std::fabs(double(scaled) - exact), 0.5 * std::ldexp(1.0, -23) * std::fabs(exact) + 1e-300) << pixel;
    EXPECT_GT(scaled, previous) << "scaling must be strictly increasing at " << pixel;
    previous = scaled;
  }
}

}  // namespace
}  // namespace train_gpu
