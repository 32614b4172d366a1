// Telling ink from flattened paper (host/predict/ink_mask.h): Otsu's threshold on hand-worked
// histograms, and speck removal that keeps a digit's pieces and drops dust.
#include "host/predict/ink_mask.h"

#include <gtest/gtest.h>

#include <vector>

namespace train_gpu::predict {
namespace {

TEST(OtsuThreshold, SplitsTwoClassesBetweenThem) {
  // Two spikes: 80 pixels at 0 and 20 at 200. Every t in 1..200 splits them the same way, and
  // the smallest such t is returned.
  std::vector<float> values(80, 0.0f);
  values.insert(values.end(), 20, 200.0f);
  EXPECT_EQ(otsu_threshold(values), 1);
  // Three levels 0, 100, 110 (40 pixels each). Between-class variance w0 w1 (m0 - m1)^2:
  // {0}|{100,110} (1/3)(2/3) 105^2 = 2,450; {0,100}|{110} (2/3)(1/3) 60^2 = 800. So t just above 0.
  values.assign(40, 0.0f);
  values.insert(values.end(), 40, 100.0f);
  values.insert(values.end(), 40, 110.0f);
  EXPECT_EQ(otsu_threshold(values), 1);
  EXPECT_EQ(otsu_threshold(std::vector<float>(10, 50.0f)), 0) << "one level: nothing to split";
  EXPECT_EQ(otsu_threshold({-20.0f, 300.0f}), 1) << "values are clamped to 0..255";
}

TEST(WithoutSpecks, DropsGroupsUnderATwentiethOfTheLargest) {
  // 12 x 6: a 10-pixel stroke (row 1), a diagonal pair touching only by a corner (one group
  // under 8-connectivity) and a lone pixel. Against a largest group of 10, only groups under
  // half a pixel would go: all stay.
  std::vector<uint8_t> mask(12 * 6, 0);
  for (int x = 1; x <= 10; ++x) mask[12 + x] = 1;
  mask[3 * 12 + 2] = mask[4 * 12 + 3] = 1;
  mask[5 * 12 + 11] = 1;
  int removed = -1;
  EXPECT_EQ(without_specks(mask, 12, 6, removed), mask);
  EXPECT_EQ(removed, 0);

  std::vector<uint8_t> big(30 * 10, 0);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 8; ++x) big[static_cast<size_t>(y) * 30 + x] = 1;  // 40 pixels
  }
  big[9 * 30 + 29] = 1;                     // a lone speck: 1 * 20 < 40
  big[8 * 30 + 20] = big[9 * 30 + 21] = 1;  // a diagonal pair: 2 * 20 = 40, not under 40, kept
  const std::vector<uint8_t> kept = without_specks(big, 30, 10, removed);
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(kept[9 * 30 + 29], 0);
  EXPECT_EQ(kept[8 * 30 + 20], 1);
  EXPECT_EQ(kept[9 * 30 + 21], 1);
  EXPECT_EQ(kept[0], 1);
}

}  // namespace
}  // namespace train_gpu::predict
