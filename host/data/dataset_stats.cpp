#include "host/data/dataset_stats.h"

#include "host/common/format.h"

#include <algorithm>
#include <cmath>

namespace train_gpu {

namespace {

ValueStats stats_of(const std::vector<uint8_t>& values) {
  std::array<int64_t, 256> histogram{};
  for (uint8_t value : values) ++histogram[value];
  ValueStats stats;
  stats.min = -1;
  for (int value = 0; value < 256; ++value) {
    if (histogram[static_cast<size_t>(value)] == 0) continue;
    ++stats.unique_values;
    if (stats.min < 0) stats.min = value;
    stats.max = value;
  }
  if (stats.min < 0) stats.min = 0;
  return stats;
}

}  // namespace

ValueStats pixel_stats(const ImageSet& set) { return stats_of(set.pixels); }

ValueStats label_stats(const ImageSet& set) { return stats_of(set.labels); }

std::vector<ChannelStats> channel_stats(const ImageSet& set) {
  std::vector<ChannelStats> stats(static_cast<size_t>(std::max(set.channels, 0)));
  const int64_t plane = int64_t{set.rows} * set.cols;
  if (set.count <= 0 || plane <= 0 || set.pixels.size() != static_cast<size_t>(set.count * set.image_size())) return stats;
  // Exact integer sums (255^2 * 2^40 pixels stays below 2^63), so the mean and variance carry no
  // accumulated rounding whatever the set's size.
  for (int c = 0; c < set.channels; ++c) {
    uint64_t sum = 0;
    uint64_t sum_squares = 0;
    for (int64_t n = 0; n < set.count; ++n) {
      const uint8_t* pixels = set.image(n) + c * plane;
      for (int64_t p = 0; p < plane; ++p) {
        sum += pixels[p];
        sum_squares += uint64_t{pixels[p]} * pixels[p];
      }
    }
    const double count = static_cast<double>(set.count * plane);
    const double mean = static_cast<double>(sum) / count;
    const double variance = std::max(0.0, static_cast<double>(sum_squares) / count - mean * mean);
    stats[static_cast<size_t>(c)] = ChannelStats{mean / 255.0, std::sqrt(variance) / 255.0};
  }
  return stats;
}

std::vector<double> label_percentages(const ImageSet& set, int num_classes) {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (uint8_t label : set.labels) {
    if (label < num_classes) ++counts[label];
  }
  std::vector<double> percent(counts.size(), 0.0);
  if (set.labels.empty()) return percent;
  for (size_t c = 0; c < counts.size(); ++c) {
    percent[c] = 100.0 * static_cast<double>(counts[c]) / static_cast<double>(set.labels.size());
  }
  return percent;
}

std::string image_shape_text(const ImageSet& set) {
  const std::string channels = set.channels == 1 ? "" : std::to_string(set.channels) + ", ";
  return "(" + std::to_string(set.count) + ", " + channels + std::to_string(set.rows) + ", " + std::to_string(set.cols) + ")";
}

std::string label_shape_text(const ImageSet& set) { return "(" + std::to_string(set.labels.size()) + ",)"; }

std::string label_distribution_csv(const std::vector<double>& train_percent, const std::vector<double>& test_percent) {
  std::string csv = "label,train_percent,test_percent\n";
  const size_t classes = std::max(train_percent.size(), test_percent.size());
  for (size_t c = 0; c < classes; ++c) {
    csv += std::to_string(c) + "," + (c < train_percent.size() ? fixed(train_percent[c], 6) : "") + "," +
           (c < test_percent.size() ? fixed(test_percent[c], 6) : "") + "\n";
  }
  return csv;
}

std::string label_distribution_csv(const ImageSet& train, const ImageSet& test, int num_classes) {
  return label_distribution_csv(label_percentages(train, num_classes), label_percentages(test, num_classes));
}

std::string render_image(const ImageSet& set, int64_t index) {
  static const char* const kShades[] = {" ", "\u2591", "\u2592", "\u2593", "\u2588"};
  // A frame, so the image's extent shows where its edge pixels are blank.
  std::string horizontal;
  for (int col = 0; col < 2 * set.cols; ++col) horizontal += "\u2500";
  const uint8_t* pixels = set.image(index);
  std::string art = "\u250c" + horizontal + "\u2510\n";
  for (int row = 0; row < set.rows; ++row) {
    art += "\u2502";
    for (int col = 0; col < set.cols; ++col) {
      const int64_t at = int64_t{row} * set.cols + col;
      const int64_t plane = int64_t{set.rows} * set.cols;
      const int value = set.channels == 3 ? static_cast<int>(std::lround(0.299 * pixels[at] + 0.587 * pixels[plane + at] +
                                                                         0.114 * pixels[2 * plane + at]))
                                          : pixels[at];
      const char* shade = kShades[value * 5 / 256];
      art += shade;
      art += shade;
    }
    art += "\u2502\n";
  }
  art += "\u2514" + horizontal + "\u2518\n";
  return art;
}

}  // namespace train_gpu
