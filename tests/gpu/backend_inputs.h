// Seeded datasets and orders for the backend-level GPU tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "host/data/image_set.h"
#include "host/model/backend.h"
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

// Direct-summation algorithms, supported for any shape: forward IMPLICIT_GEMM (no workspace) and
// backward-filter ALGO_1 (deterministic). Their fp32 error is that of a dot product in some
// order, which is what the tolerances comparing backends are derived for; a test comparing
// against the CPU pins them (cudnnFind may pick FFT or Winograd, whose errors of 1e-7..1e-6
// flip max-pooling winners and move conv-weight gradients far beyond those tolerances).
inline ConvolutionAlgorithms direct_sum_algorithms() {
  ConvolutionAlgorithms algorithms;
  algorithms.forward = 0;          // CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM
  algorithms.backward_filter = 1;  // CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1
  return algorithms;
}

inline std::vector<int32_t> shuffled(int64_t count, uint32_t seed) {
  std::vector<int32_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

}  // namespace train_gpu::cuda::testing
