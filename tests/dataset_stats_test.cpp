// What `inspect` reports: checked on tiny sets by hand and on real MNIST against the tutorial's
// numbers (computed independently with /usr/bin/python3 + numpy from the same files).
#include "host/data/dataset_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "host/data/dataset.h"

namespace train_gpu {
namespace {

ImageSet tiny_set() {
  ImageSet set;
  set.count = 2;
  set.rows = 2;
  set.cols = 3;
  set.pixels = {0, 51, 52, 102, 153, 255,   // image 0
                7, 7, 7, 7, 7, 7};          // image 1
  set.labels = {3, 9};
  return set;
}

TEST(DatasetStats, PixelAndLabelStats) {
  const ImageSet set = tiny_set();
  const ValueStats pixels = pixel_stats(set);
  EXPECT_EQ(pixels.unique_values, 7);
  EXPECT_EQ(pixels.min, 0);
  EXPECT_EQ(pixels.max, 255);
  const ValueStats labels = label_stats(set);
  EXPECT_EQ(labels.unique_values, 2);
  EXPECT_EQ(labels.min, 3);
  EXPECT_EQ(labels.max, 9);
  const ValueStats empty = pixel_stats(ImageSet{});
  EXPECT_EQ(empty.unique_values, 0);
  EXPECT_EQ(empty.min, 0);
  EXPECT_EQ(empty.max, 0);
}

TEST(DatasetStats, ShapesPercentagesAndCsv) {
  const ImageSet set = tiny_set();
  EXPECT_EQ(image_shape_text(set), "(2, 2, 3)");
  EXPECT_EQ(label_shape_text(set), "(2,)");
  const std::vector<double> percent = label_percentages(set, 10);
  ASSERT_EQ(percent.size(), 10u);
  EXPECT_EQ(percent[3], 50.0);  // 1 of 2: exact in binary
  EXPECT_EQ(percent[9], 50.0);
  EXPECT_EQ(percent[0], 0.0);
  EXPECT_EQ(label_distribution_csv({50.0, 50.0}, {12.3456789, 87.6543211}),
            "label,train_percent,test_percent\n0,50.000000,12.345679\n1,50.000000,87.654321\n");
}

// Per-channel mean and std on the [0,1] scale, computed by hand from the planar bytes.
TEST(DatasetStats, ChannelStatsOfAnRgbSet) {
  ImageSet set;
  set.count = 2;
  set.channels = 3;
  set.rows = 1;
  set.cols = 2;
  // image 0: R {0, 255}, G {51, 51}, B {10, 20}; image 1: R {255, 0}, G {51, 51}, B {30, 40}
  set.pixels = {0, 255, 51, 51, 10, 20, 255, 0, 51, 51, 30, 40};
  set.labels = {0, 1};
  EXPECT_EQ(image_shape_text(set), "(2, 3, 1, 2)");
  const std::vector<ChannelStats> stats = channel_stats(set);
  ASSERT_EQ(stats.size(), 3u);
  // R: half 0, half 255: mean 0.5, std 0.5. G: constant 0.2, std 0. B: {10,20,30,40}/255: mean
  // 25/255, population std sqrt(125)/255. Exact sums, so only the last division rounds: 1e-12.
  EXPECT_NEAR(stats[0].mean, 0.5, 1e-12);
  EXPECT_NEAR(stats[0].std, 0.5, 1e-12);
  EXPECT_NEAR(stats[1].mean, 0.2, 1e-12);
  EXPECT_NEAR(stats[1].std, 0.0, 1e-12);
  EXPECT_NEAR(stats[2].mean, 25.0 / 255.0, 1e-12);
  EXPECT_NEAR(stats[2].std, std::sqrt(125.0) / 255.0, 1e-12);
  // An RGB image is drawn by its luma: pixel 0 is 0.299*0 + 0.587*51 + 0.114*10 = 31.1 -> ' ';
  // pixel 1 is 0.299*255 + 0.587*51 + 0.114*20 = 108.4 -> 108*5/256 = 2 -> the middle shade.
  EXPECT_EQ(render_image(set, 0), "\u250c\u2500\u2500\u2500\u2500\u2510\n\u2502  \u2592\u2592\u2502\n\u2514\u2500\u2500\u2500\u2500\u2518\n");
  EXPECT_EQ(channel_stats(ImageSet{}).size(), 1u);  // gray, empty: zeros
  EXPECT_EQ(channel_stats(ImageSet{})[0].mean, 0.0);
}

TEST(DatasetStats, RenderImageShadesAndFrame) {
  // Shade index = value * 5 / 256: 0 and 51 are blank, 52 is the first '░', 255 is '█'.
  // 102 -> 1 ('░'), 153 -> 2 ('▒'): the bands are 51.2 values wide.
  EXPECT_EQ(render_image(tiny_set(), 0),
            "┌──────┐\n"
            "│    ░░│\n"
            "│░░▒▒██│\n"
            "└──────┘\n");
}

// The label distribution of the tutorial's MNIST, in percent with 6 decimals. Counts are exact
// integers, so the only error is the printed rounding: |a - b| <= 5e-7.
TEST(DatasetStatsRealData, MnistLabelDistribution) {
  const Dataset dataset = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  const std::vector<double> train_expected{9.871667, 11.236667, 9.930000, 10.218333, 9.736667,
                                           9.035000, 9.863333,  10.441667, 9.751667, 9.915000};
  const std::vector<double> test_expected{9.800000, 11.350000, 10.320000, 10.100000, 9.820000,
                                          8.920000, 9.580000,  10.280000, 9.740000,  10.090000};
  const std::vector<double> train = label_percentages(dataset.train, 10);
  const std::vector<double> test = label_percentages(dataset.test, 10);
  for (size_t c = 0; c < 10; ++c) {
    EXPECT_LE(std::abs(train[c] - train_expected[c]), 5e-7) << "class " << c;
    EXPECT_LE(std::abs(test[c] - test_expected[c]), 5e-7) << "class " << c;
  }
  const ValueStats pixels = pixel_stats(dataset.train);
  EXPECT_EQ(pixels.unique_values, 256);
  EXPECT_EQ(pixels.min, 0);
  EXPECT_EQ(pixels.max, 255);
  const ValueStats labels = label_stats(dataset.test);
  EXPECT_EQ(labels.unique_values, 10);
  EXPECT_EQ(labels.min, 0);
  EXPECT_EQ(labels.max, 9);
  EXPECT_EQ(image_shape_text(dataset.train), "(60000, 28, 28)");
  EXPECT_EQ(label_shape_text(dataset.test), "(10000,)");
}

}  // namespace
}  // namespace train_gpu
