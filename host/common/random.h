// The project's one random number generator: SplitMix64 seeding a xoshiro256** stream.
// Written out (30 lines) rather than taken from <random> because std::shuffle and the std
// distributions are implementation-defined: a seed must give the same permutation and the same
// initial weights with any standard library, or checkpoints and resumed runs stop matching.
#pragma once

#include <cstdint>

namespace train_gpu {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : state_) word = splitmix64(seed);
  }
  // A stream for (seed, stream): e.g. (run seed, epoch) so each epoch's order stands alone.
  Rng(uint64_t seed, uint64_t stream) : Rng(splitmix_mix(seed) ^ splitmix_mix(stream + 0x9E3779B97F4A7C15ULL)) {}

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), unbiased: draws below 2^64 mod bound are rejected so that every
  // residue is equally likely. bound must be > 0.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const uint64_t draw = next();
      if (draw >= threshold) return draw % bound;
    }
  }

  // Uniform float in [0, 1) from the top 24 bits: every value is exactly representable.
  float uniform01() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  static uint64_t splitmix64(uint64_t& x) { return splitmix_mix(x += 0x9E3779B97F4A7C15ULL); }

  uint64_t state_[4];
};

}  // namespace train_gpu
