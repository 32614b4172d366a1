// Seeded datasets and orders for the backend-level GPU tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "host/data/image_set.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda::testing {

// Random 28x28 images with labels; pixel values spread over 0..255 so ReLUs split both ways.
inline ImageSet random_images(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::uniform_int_distribution<int> label(0, 9);
  ImageSet set;
  set.count = count;
  set.rows = model::kImageSide;
  set.cols = model::kImageSide;
  set.pixels.resize(static_cast<std::size_t>(count * set.image_size()));
  set.labels.resize(static_cast<std::size_t>(count));
  for (uint8_t& p : set.pixels) p = static_cast<uint8_t>(pixel(rng));
  for (uint8_t& l : set.labels) l = static_cast<uint8_t>(label(rng));
  return set;
}

inline std::vector<int32_t> shuffled(int64_t count, uint32_t seed) {
  std::vector<int32_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

}  // namespace train_gpu::cuda::testing
