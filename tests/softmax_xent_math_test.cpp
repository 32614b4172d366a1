// The fused softmax + sparse cross-entropy row (cuda/math/softmax_xent_math.h) against float64,
// on ordinary and extreme logits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cuda/math/softmax_xent_math.h"
#include "host/common/random.h"

namespace train_gpu {
namespace {

constexpr int kClasses = 10;
constexpr double kUnitRoundoff = 1.0 / 16777216.0;  // 2^-24

struct Reference {
  double loss;
  std::vector<double> probabilities;
};

Reference reference_row(const float* logits, int label) {
  double z_max = logits[0];
  for (int j = 1; j < kClasses; ++j) z_max = std::max(z_max, double(logits[j]));
  double sum = 0;
  for (int j = 0; j < kClasses; ++j) sum += std::exp(double(logits[j]) - z_max);
  Reference r;
  r.loss = z_max + std::log(sum) - double(logits[label]);
  for (int j = 0; j < kClasses; ++j) r.probabilities.push_back(std::exp(double(logits[j]) - z_max) / sum);
  return r;
}

TEST(SoftmaxXentMathTest, MatchesFloat64OnRandomRows) {
  Rng rng(5);
  for (int row = 0; row < 200; ++row) {
    float logits[kClasses];
    for (float& z : logits) z = 20.0f * (rng.uniform01() - 0.5f);
    const int label = int(rng.below(kClasses));
    const float scale = 1.0f / 64.0f;
    float dlogits[kClasses];
    const math::SoftmaxXentRow result = math::softmax_xent_row(logits, kClasses, label, scale, dlogits);
    const Reference r = reference_row(logits, label);
    // The loss is lse - z_label with |z| <= 10: expf/logf are accurate to a few ulps and the
    // subtraction of values up to ~12 in magnitude loses at most 2^-24 * 24 absolute, so 1e-5
    // absolute (~ 64 u * 12) bounds it with margin.
    EXPECT_NEAR(result.loss, r.loss, 1e-5) << "row " << row;
    for (int j = 0; j < kClasses; ++j) {
      const double expected = double(scale) * (r.probabilities[std::size_t(j)] - (j == label ? 1.0 : 0.0));
      // exp(z - lse) with lse accurate to ~1e-6 absolute: relative error ~1e-6 on p, times scale.
      EXPECT_NEAR(dlogits[j], expected, double(scale) * 2e-6) << "row " << row << " class " << j;
    }
    const int expected_predicted = int(std::max_element(logits, logits + kClasses) - logits);
    EXPECT_EQ(result.predicted, expected_predicted);
  }
}

TEST(SoftmaxXentMathTest, LargeLogitsKeepTheAccuracyOfSmallOnes) {
  // Logits near 1e4 (float ulp 1e-3) with spreads of a few units: softmax is shift invariant,
  // and the row must be as accurate as in MatchesFloat64OnRandomRows. (Adding log(sum) to the
  // maximum before subtracting it back would round it to 1e-3 and fail this.)
  Rng rng(9);
  for (int row = 0; row < 100; ++row) {
    float logits[kClasses], dlogits[kClasses];
    for (float& z : logits) z = 1e4f + 10.0f * (rng.uniform01() - 0.5f);
    const int label = int(rng.below(kClasses));
    const math::SoftmaxXentRow result = math::softmax_xent_row(logits, kClasses, label, 1.0f, dlogits);
    const Reference r = reference_row(logits, label);
    // Same bounds as for small logits: z_j - max is exact (Sterbenz), the rest is as there.
    EXPECT_NEAR(result.loss, r.loss, 1e-5) << "row " << row;
    for (int j = 0; j < kClasses; ++j) {
      EXPECT_NEAR(dlogits[j], r.probabilities[std::size_t(j)] - (j == label ? 1.0 : 0.0), 2e-6) << "row " << row;
    }
  }
}

TEST(SoftmaxXentMathTest, GradientsOfEachRowSumToZero) {
  Rng rng(6);
  for (int row = 0; row < 100; ++row) {
    float logits[kClasses], dlogits[kClasses];
    for (float& z : logits) z = 50.0f * (rng.uniform01() - 0.5f);
    const int label = int(rng.below(kClasses));
    math::softmax_xent_row(logits, kClasses, label, 1.0f, dlogits);
    double sum = 0;
    for (float g : dlogits) sum += g;
    // sum p_j - 1 = 0 exactly; each p_j carries a few-ulp relative error, so the sum's error is
    // at most ~10 terms * 8 u * p_j summed = 8 u * 10.
    EXPECT_NEAR(sum, 0.0, 80 * kUnitRoundoff) << "row " << row;
  }
}

TEST(SoftmaxXentMathTest, ExtremeLogitsStayFinite) {
  float logits[kClasses];
  for (float& z : logits) z = -1e4f;
  logits[3] = 1e4f;
  float dlogits[kClasses];

  // A dominant correct class: exp(-2e4) underflows to 0, so the loss is exactly 0 and the
  // gradient exactly 0 everywhere.
  math::SoftmaxXentRow right = math::softmax_xent_row(logits, kClasses, 3, 1.0f, dlogits);
  EXPECT_EQ(right.loss, 0.0f);
  EXPECT_EQ(right.predicted, 3);
  for (float g : dlogits) EXPECT_EQ(g, 0.0f);

  // A dominant wrong class: loss = z_3 - z_label = 2e4 (representable), gradient +1 on the
  // winner and -1 on the label, finite.
  const math::SoftmaxXentRow wrong = math::softmax_xent_row(logits, kClasses, 7, 1.0f, dlogits);
  EXPECT_EQ(wrong.loss, 2e4f);
  EXPECT_EQ(wrong.predicted, 3);
  double sum = 0;
  for (int j = 0; j < kClasses; ++j) {
    EXPECT_TRUE(std::isfinite(dlogits[j]));
    sum += dlogits[j];
  }
  EXPECT_EQ(dlogits[3], 1.0f);
  EXPECT_EQ(dlogits[7], -1.0f);
  EXPECT_EQ(sum, 0.0);

  // Huge equal logits: no overflow since the max is subtracted first, and log(10) survives
  // because it is never added to the 3e38 maximum: loss = (m - z) + log(10).
  for (float& z : logits) z = 3e38f;
  const math::SoftmaxXentRow flat = math::softmax_xent_row(logits, kClasses, 0, 1.0f, dlogits);
  EXPECT_NEAR(flat.loss, std::log(10.0), 4 * kUnitRoundoff * std::log(10.0));
}

TEST(SoftmaxXentMathTest, TiesPredictTheFirstIndexAsNumpyArgmax) {
  float logits[kClasses] = {0, 1, 2, 5, 0, 0, 0, 5, 0, 5};
  EXPECT_EQ(math::softmax_xent_row(logits, kClasses, 0, 1.0f, nullptr).predicted, 3);
  float flat[kClasses] = {};
  const math::SoftmaxXentRow result = math::softmax_xent_row(flat, kClasses, 4, 1.0f, nullptr);
  EXPECT_EQ(result.predicted, 0);
  EXPECT_NEAR(result.loss, std::log(10.0), 4 * kUnitRoundoff * std::log(10.0));
}

TEST(SoftmaxXentMathTest, ScaleMultipliesOnlyTheGradient) {
  const float logits[kClasses] = {0.5f, -1, 2, 0, 0, 1, -3, 0.25f, 0, 1};
  float unit[kClasses], scaled[kClasses];
  const auto a = math::softmax_xent_row(logits, kClasses, 2, 1.0f, unit);
  const auto b = math::softmax_xent_row(logits, kClasses, 2, 0.125f, scaled);
  EXPECT_EQ(a.loss, b.loss);
  for (int j = 0; j < kClasses; ++j) EXPECT_EQ(scaled[j], 0.125f * unit[j]);  // power of two: exact
}

TEST(SoftmaxXentMathTest, NanLogitGivesNanLoss) {
  float logits[kClasses] = {};
  logits[5] = std::numeric_limits<float>::quiet_NaN();
  float dlogits[kClasses];
  EXPECT_TRUE(std::isnan(math::softmax_xent_row(logits, kClasses, 0, 1.0f, dlogits).loss));
}

TEST(SoftmaxXentMathTest, SoftmaxRowSumsToOneAndMatchesFloat64) {
  const float logits[kClasses] = {1e4f, -1e4f, 0, 0, 0, 0, 0, 0, 0, 0};
  float p[kClasses];
  math::softmax_row(logits, kClasses, p);
  EXPECT_EQ(p[0], 1.0f);
  for (int j = 1; j < kClasses; ++j) EXPECT_EQ(p[j], 0.0f);

  Rng rng(8);
  for (int row = 0; row < 50; ++row) {
    float z[kClasses];
    for (float& v : z) v = 8.0f * (rng.uniform01() - 0.5f);
    math::softmax_row(z, kClasses, p);
    const Reference r = reference_row(z, 0);
    double sum = 0;
    for (int j = 0; j < kClasses; ++j) {
      // expf and one division: a few ulps relative.
      EXPECT_NEAR(p[j], r.probabilities[std::size_t(j)], 8 * kUnitRoundoff * r.probabilities[std::size_t(j)]);
      sum += p[j];
    }
    EXPECT_NEAR(sum, 1.0, 16 * kUnitRoundoff);
  }
}

}  // namespace
}  // namespace train_gpu
