#include "host/predict/ink_mask.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

namespace train_gpu::predict {

int otsu_threshold(const std::vector<float>& values) {
  std::array<double, 256> histogram{};
  for (const float value : values) histogram[static_cast<size_t>(std::lround(std::clamp(value, 0.0f, 255.0f)))] += 1;
  const double total = static_cast<double>(values.size());
  double sum_all = 0;
  for (int level = 0; level < 256; ++level) sum_all += level * histogram[static_cast<size_t>(level)];
  double below = 0, sum_below = 0, best = -1;
  int threshold = 0;
  for (int t = 1; t < 256; ++t) {
    // Class "below" holds levels 0..t-1.
    below += histogram[static_cast<size_t>(t - 1)];
    sum_below += (t - 1) * histogram[static_cast<size_t>(t - 1)];
    const double above = total - below;
    if (below == 0 || above == 0) continue;
    const double mean_below = sum_below / below, mean_above = (sum_all - sum_below) / above;
    const double between = below * above * (mean_below - mean_above) * (mean_below - mean_above);
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}

std::vector<uint8_t> without_specks(const std::vector<uint8_t>& mask, int width, int height, int& removed) {
  const size_t count = static_cast<size_t>(width) * static_cast<size_t>(height);
  std::vector<int> group(count, -1);
  std::vector<size_t> sizes;
  std::vector<size_t> stack;
  for (size_t start = 0; start < count; ++start) {
    if (!mask[start] || group[start] >= 0) continue;
    const int id = static_cast<int>(sizes.size());
    size_t size = 0;
    group[start] = id;
    stack.push_back(start);
    while (!stack.empty()) {
      const size_t at = stack.back();
      stack.pop_back();
      ++size;
      const int x = static_cast<int>(at % static_cast<size_t>(width)), y = static_cast<int>(at / static_cast<size_t>(width));
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || nx >= width || ny < 0 || ny >= height) continue;
          const size_t next = static_cast<size_t>(ny) * static_cast<size_t>(width) + static_cast<size_t>(nx);
          if (mask[next] && group[next] < 0) {
            group[next] = id;
            stack.push_back(next);
          }
        }
      }
    }
    sizes.push_back(size);
  }
  const size_t largest = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
  removed = 0;
  for (const size_t size : sizes) removed += size * kSpeckFraction < largest ? 1 : 0;
  std::vector<uint8_t> kept(count, 0);
  for (size_t i = 0; i < count; ++i) {
    kept[i] = group[i] >= 0 && sizes[static_cast<size_t>(group[i])] * kSpeckFraction >= largest ? 1 : 0;
  }
  return kept;
}

}  // namespace train_gpu::predict
