// Seeded inputs for the GPU tests: uniform floats for numerics, small integers for plumbing
// checks that must be exact (every product and partial sum an integer below 2^24).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace train_gpu::cuda::testing {

inline std::vector<float> uniform(std::size_t count, float low, float high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(low, high);
  std::vector<float> out(count);
  for (float& x : out) x = value(rng);
  return out;
}

inline std::vector<float> small_integers(std::size_t count, int low, int high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(low, high);
  std::vector<float> out(count);
  for (float& x : out) x = static_cast<float>(value(rng));
  return out;
}

}  // namespace train_gpu::cuda::testing
