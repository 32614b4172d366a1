// The confusion matrix picture: size, shading by row share, and its labels drawn.
#include "host/eval/confusion_picture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace train_gpu::eval {
namespace {

constexpr int kCell = 36;

const uint8_t* cell_corner(const Image& image, int column, int row) { return image.at(column * kCell + 1, row * kCell + 1); }

TEST(ConfusionPicture, ShadesEachCellByItsShareOfTheRow) {
  // Class 0: all 40 right. Class 1: 10 right, 30 taken for 0. Class 2: no samples.
  const ConfusionMatrix matrix(3, {40, 0, 0, 30, 10, 0, 0, 0, 0});
  const Image image = confusion_picture(matrix);
  EXPECT_EQ(image.width, 4 * kCell);
  EXPECT_EQ(image.height, 4 * kCell);
  EXPECT_EQ(image.channels, 3);

  const uint8_t* full = cell_corner(image, 1, 1);    // (true 0, predicted 0): share 1, darkest
  const uint8_t* most = cell_corner(image, 1, 2);    // (1, 0): share 0.75
  const uint8_t* some = cell_corner(image, 2, 2);    // (1, 1): share 0.25
  const uint8_t* none = cell_corner(image, 2, 1);    // (0, 1): share 0, white
  const uint8_t* empty = cell_corner(image, 3, 3);   // a class without samples: white, not NaN-coloured
  EXPECT_EQ(full[0], 8);
  EXPECT_EQ(full[2], 107);
  EXPECT_LT(most[0], some[0]);
  EXPECT_LT(some[0], none[0]);
  EXPECT_EQ(none[0], 255);
  EXPECT_EQ(empty[0], 255);
  EXPECT_EQ(empty[1], 255);
}

TEST(ConfusionPicture, DrawsTheCountsAndTheLabels) {
  const ConfusionMatrix matrix(2, {5, 0, 0, 5});
  const Image image = confusion_picture(matrix);
  // Some pixel of each label cell differs from the background: text was drawn there.
  auto has_ink = [&](int column, int row, const uint8_t* background) {
    for (int y = row * kCell; y < (row + 1) * kCell; ++y) {
      for (int x = column * kCell; x < (column + 1) * kCell; ++x) {
        if (image.at(x, y)[0] != background[0]) return true;
      }
    }
    return false;
  };
  const uint8_t white[3] = {255, 255, 255};
  EXPECT_TRUE(has_ink(0, 0, white));   // "T>P"
  EXPECT_TRUE(has_ink(1, 0, white));   // column label 0
  EXPECT_TRUE(has_ink(0, 2, white));   // row label 1
  EXPECT_TRUE(has_ink(1, 1, cell_corner(image, 1, 1)));  // the count 5 on the dark diagonal
  EXPECT_TRUE(has_ink(2, 1, white));   // the count 0
}

// Issue 24: the picture says which checkpoint it describes, in a strip below the matrix.
TEST(ConfusionPicture, CaptionNamesTheCheckpointBelowTheMatrix) {
  const ConfusionMatrix matrix(3, {40, 0, 0, 30, 10, 0, 0, 0, 0});
  const Image plain = confusion_picture(matrix);
  const Image captioned = confusion_picture(matrix, "EPOCH 3 STEP 20");
  ASSERT_EQ(captioned.width, plain.width);
  ASSERT_EQ(captioned.height, plain.height + 22);  // 10-pixel text, 6 pixels above and below
  EXPECT_TRUE(std::equal(plain.pixels.begin(), plain.pixels.end(), captioned.pixels.begin()));
  Image expected(plain.width, 22, 3, 255);
  draw_text(expected, 6, 6, "EPOCH 3 STEP 20", 2, Rgb{60, 60, 60});
  EXPECT_TRUE(std::equal(expected.pixels.begin(), expected.pixels.end(), captioned.pixels.begin() + static_cast<std::ptrdiff_t>(plain.pixels.size())));
  // Too wide for a 2-class picture at scale 2: drawn at scale 1 rather than cut off.
  const Image small = confusion_picture(ConfusionMatrix(2, {1, 0, 0, 1}), "EPOCH 3 STEP 20");
  EXPECT_EQ(small.height, 3 * kCell + 5 + 12);
}

}  // namespace
}  // namespace train_gpu::eval
