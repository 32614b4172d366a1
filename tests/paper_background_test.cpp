// The paper model (host/predict/paper_background.h): a known quadratic surface under ink and
// seeded grain is recovered -- the ink, a fifth of the picture and brighter, does not pull it --
// with the grain's sd; even clean paper has spread 0 and noise 0, which keeps clean drawings on
// their old path.
#include "host/predict/paper_background.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace train_gpu::predict {
namespace {

// 120 x 90 paper from `surface`, with a ring of ink 100 levels above it (about a fifth of the
// pixels) and normal grain of sd `grain`.
template <typename Surface>
std::vector<float> page(Surface surface, float grain, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> noise(0.0f, grain);
  std::vector<float> gray(120 * 90);
  for (int y = 0; y < 90; ++y) {
    for (int x = 0; x < 120; ++x) {
      const double radius = std::hypot(x - 60.0, y - 45.0);
      const bool ink = radius > 22 && radius < 34;
      gray[static_cast<size_t>(y) * 120 + x] = surface(x, y) + (ink ? 100.0f : 0.0f) + (grain > 0 ? noise(random) : 0.0f);
    }
  }
  return gray;
}

TEST(PaperBackground, EvenCleanPaperIsFlatWithNoNoise) {
  const PaperBackground paper = fit_paper_background(page([](int, int) { return 30.0f; }, 0, 1), 120, 90);
  EXPECT_NEAR(paper.at(0, 0), 30.0f, 1e-3);
  EXPECT_NEAR(paper.at(119, 89), 30.0f, 1e-3);
  EXPECT_LT(paper.spread, 1e-3);
  EXPECT_LT(paper.noise, 1e-3) << "0 but for float rounding in the fit";
}

TEST(PaperBackground, AShadedGrainyPageIsRecoveredUnderTheInk) {
  // The page after inversion: 85 at the top to 25 at the bottom, plus a vignette that
  // darkens the corners by up to 12 levels, and grain of sd 6.
  const auto surface = [](int x, int y) {
    const double u = (x - 59.5) / 59.5, v = (y - 44.5) / 44.5;
    return static_cast<float>(85.0 - 60.0 * y / 89.0 + 6.0 * (u * u + v * v));
  };
  const PaperBackground paper = fit_paper_background(page(surface, 6.0f, 7), 120, 90);
  // Least squares over ~8,000 paper pixels of sd 6 fixes the surface to about 6 / sqrt(8000)
  // per coefficient; 1.5 levels anywhere allows for that and for the grain the 3-sd cut trims.
  for (const auto& [x, y] : {std::pair{0, 0}, {119, 0}, {0, 89}, {119, 89}, {60, 45}, {30, 70}}) {
    EXPECT_NEAR(paper.at(x, y), surface(x, y), 1.5) << "at (" << x << "," << y << ")";
  }
  EXPECT_NEAR(paper.spread, 60.0f + 6.0f, 3.0f);
  // The trimmed grain's robust sd: within 15% of the true 6 (the 3-sd cut trims 0.3% of paper).
  EXPECT_NEAR(paper.noise, 6.0f, 0.9f);
}

TEST(PaperBackground, ATinyPictureFallsBackToFlatPaper) {
  const std::vector<float> gray = {10, 10, 200};
  const PaperBackground paper = fit_paper_background(gray, 3, 1);
  EXPECT_NEAR(paper.at(0, 0), 10.0f, 1e-3);
  EXPECT_NEAR(paper.at(2, 0), 10.0f, 1e-3);
}

}  // namespace
}  // namespace train_gpu::predict
