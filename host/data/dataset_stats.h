// What `train_gpu inspect` reports about a loaded split: pixel and label statistics, the label
// distribution, and a text rendering of one image. Kept apart from the CLI so tests check the
// numbers without parsing tables.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/image_set.h"

namespace train_gpu {

struct ValueStats {
  int unique_values = 0;  // distinct values present
  int min = 0;
  int max = 0;
};

// Over every pixel of every image (uint8, so a 256-bin histogram). An empty set gives zeros.
ValueStats pixel_stats(const ImageSet& set);
// Over the labels.
ValueStats label_stats(const ImageSet& set);

// Mean and standard deviation of one channel's pixels scaled to [0,1] (x / 255, as the backends
// scale them): what normalization layers and CIFAR recipes quote, e.g. CIFAR-10's red channel
// 0.4914 +- 0.2470.
struct ChannelStats {
  double mean = 0;
  double std = 0;  // population standard deviation (over all pixels, not a sample estimate)
};
// One per channel (1 for gray, 3 for RGB: R, G, B); zeros for an empty set.
std::vector<ChannelStats> channel_stats(const ImageSet& set);

// Per class c in 0..num_classes-1: 100 * (labels equal to c) / count.
std::vector<double> label_percentages(const ImageSet& set, int num_classes);

// "(60000, 28, 28)" and "(60000,)", as NumPy prints shapes; a colour set shows its channels as
// stored, planar: "(50000, 3, 32, 32)".
std::string image_shape_text(const ImageSet& set);
std::string label_shape_text(const ImageSet& set);

// label,train_percent,test_percent with 6 decimals, one row per class.
std::string label_distribution_csv(const std::vector<double>& train_percent, const std::vector<double>& test_percent);
// The same table straight from the two splits: what `inspect --out` and every training run write.
std::string label_distribution_csv(const ImageSet& train, const ImageSet& test, int num_classes);

// Image `index` as rows of Unicode shades, two characters per pixel so it keeps its aspect in a
// terminal: ' ' below 52, then '░', '▒', '▓', '█' (value * 5 / 256), inside a box-drawing frame.
// A colour image is drawn by its luma (0.299 R + 0.587 G + 0.114 B).
std::string render_image(const ImageSet& set, int64_t index);

}  // namespace train_gpu
