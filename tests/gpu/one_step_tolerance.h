// How far the state after ONE training step may be from the CPU backend's, from the same start:
// the bounds both cuda_backend_test (OneTrainingStepMatchesTheCpuBackend) and graph_backend_test
// (EveryKernelVariantMatchesTheCpuBackend) apply, derived once here.
//
// Everything but the convolution weights: FP32 on both sides with different summation orders.
// After one Adam step from zero moments w changes by lr * g / (|g| + eps / sqrt(1 - beta2)) =
// lr * g / (|g| + 3.2e-6): a gradient error delta moves w by at most lr * delta / 3.2e-6 =
// 316 * delta. The gradients agree to ~1e-6 relative, so for the smallest nonzero gradients
// (~1e-9) w moves < 1e-12; large ones saturate at lr. A gradient small only through
// cancellation (a conv bias summing 64 * 676 terms of either sign) has an absolute error ~1e-7
// of its terms' magnitudes, which the 316x gain can make ~1e-6: hence rtol 1e-4 plus atol 1e-5
// (1% of one step of size lr) on w. m = 0.1 g and v = 0.001 g^2 expose the gradients directly:
// rtol 1e-4 (m) and 2e-4 (v, squared), atol below any meaningful magnitude.
//
// The convolution weights: max pooling routes each window's gradient to its winner, and two
// entries of a window within ~1 ulp of each other can swap places when cuDNN sums the 9 taps in
// another order than the CPU (≈ 0.05-0.15 such flips per step of 64 random images, by the second
// audit's float32 emulation). One flip routes one pooled gradient dP[n, c, i] to the other pixel
// of its window: dWc[c, k] moves by dP * (X[a + k] - X[b + k]) for the 9 taps k of channel c
// only, and |X| <= 1 (pixels scaled to [0, 1]). So at most 9 weights of one channel per flip
// leave the tight bounds, by at most one routed gradient. Its bound, from the weights:
//   sum_k |dZ[n, k]| = sum_k |p_k - onehot_k| / N <= 2 / N
//   |dH[n, h]| <= max|W2| * 2 / N                              (ReLU masks only shrink it)
//   |dP[n, j]| <= sum_h |W1[h, j]| * max|W2| * 2 / N           (the largest column of |W1|)
// 0.0163 for initial_model_state(42) at N = 64 (computed). Those weights may then differ by 0.1 * dP in m,
// 0.001 * (2 |g| dP + dP^2) in v, and 2 lr in w (the update is at most lr either way). Up to
// kMaxFlips flips are allowed; P(more than 2 | 0.15 per step) < 1e-3.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <set>
#include <sstream>
#include <vector>

#include "gpu/cuda_test_fixture.h"
#include "host/model/backend.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda::testing {

constexpr int kMaxFlips = 2;

// The largest |dP| one training step of `batch` samples can route, from `start`'s weights.
inline double routed_gradient_bound(const ModelState& start, int batch) {
  using namespace train_gpu::model;
  double max_w2 = 0;
  for (std::size_t i = 0; i < kFc2WeightCount; ++i) {
    max_w2 = std::max(max_w2, double(std::fabs(start.parameters[kFc2WeightOffset + i])));
  }
  double max_column = 0;
  for (int j = 0; j < kFlatFeatures; ++j) {
    double column = 0;
    for (int h = 0; h < kHidden; ++h) {
      column += std::fabs(start.parameters[kFc1WeightOffset + std::size_t(h) * kFlatFeatures + std::size_t(j)]);
    }
    max_column = std::max(max_column, column);
  }
  return max_column * max_w2 * 2.0 / batch;
}

// Whether |a - r| <= atol + rtol |r|.
inline bool within(double a, double r, double rtol, double atol) {
  return std::fabs(a - r) <= atol + rtol * std::fabs(r);
}

// The state after one step on the GPU against the CPU's, both from `start` with batch `batch`.
inline ::testing::AssertionResult one_step_close(const ModelState& gpu, const ModelState& cpu, const ModelState& start,
                                                 int batch, double learning_rate) {
  using namespace train_gpu::model;
  const double routed = routed_gradient_bound(start, batch);
  std::set<std::size_t> flipped_channels;
  std::size_t loose = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  bool failed = false;
  for (std::size_t i = 0; i < gpu.parameters.size(); ++i) {
    const bool tight = within(gpu.parameters[i], cpu.parameters[i], 1e-4, 1e-5) &&
                       within(gpu.adam_m[i], cpu.adam_m[i], 1e-4, 1e-9) &&
                       within(gpu.adam_v[i], cpu.adam_v[i], 2e-4, 1e-14);
    if (tight) continue;
    const bool conv_weight = i >= kConvWeightOffset && i < kConvWeightOffset + kConvWeightCount;
    const double g = std::fabs(cpu.adam_m[i]) / 0.1;
    // The w clause holds by construction (one Adam step from zero moments moves each side by at
    // most lr): a flip is told by m and v, which the two clauses after it bound.
    const bool within_one_flip =
        conv_weight && std::fabs(gpu.parameters[i] - cpu.parameters[i]) <= 2 * learning_rate &&
        std::fabs(gpu.adam_m[i] - cpu.adam_m[i]) <= 0.1 * routed + 1e-9 &&
        std::fabs(gpu.adam_v[i] - cpu.adam_v[i]) <= 0.001 * (2 * g * routed + routed * routed) + 1e-14;
    if (within_one_flip) {
      flipped_channels.insert((i - kConvWeightOffset) / (kConvKernel * kConvKernel));
      ++loose;
      continue;
    }
    if (!failed) {
      failure << "[" << i << "] w " << gpu.parameters[i] << " vs " << cpu.parameters[i] << ", m " << gpu.adam_m[i]
              << " vs " << cpu.adam_m[i] << ", v " << gpu.adam_v[i] << " vs " << cpu.adam_v[i] << "; ";
    }
    failed = true;
  }
  if (flipped_channels.size() > std::size_t{kMaxFlips}) {
    failure << loose << " conv weights in " << flipped_channels.size()
            << " channels differ by up to a routed gradient (" << routed << "): more than " << kMaxFlips
            << " pooling flips; ";
    failed = true;
  }
  if (!failed) return ::testing::AssertionSuccess() << loose << " conv weights within one routed gradient";
  return failure;
}

}  // namespace train_gpu::cuda::testing
