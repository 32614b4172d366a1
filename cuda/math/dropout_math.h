// Dropout's mask, shared by both backends: a counter-based generator (Philox4x32-10, from
// Random123, as cuRAND and JAX use) keyed on (seed, step, layer, element), so the CPU and a GPU
// draw the same mask for the same step without any generator state, the backward pass can
// recompute or keep it as it likes, and a resumed run (the step is in its checkpoint) draws
// exactly the masks the uninterrupted run would have.
//
// One Philox call gives four 32-bit words: elements 4b..4b+3 of a layer's (batch, features)
// activation come from block b. Key: the seed's two halves. Counter: (b low, b high, layer, step
// low 32 bits): steps repeat their masks after 2^32 steps, far beyond any run.
#pragma once

#include <Random123/philox.h>

#include <cstdint>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

struct DropoutBits {
  uint32_t word[4];
};

TG_HOST_DEVICE DropoutBits dropout_bits(uint64_t seed, int64_t step, int layer, uint64_t block) {
  const r123::Philox4x32::ctr_type counter = {{uint32_t(block), uint32_t(block >> 32), uint32_t(layer), uint32_t(step)}};
  const r123::Philox4x32::key_type key = {{uint32_t(seed), uint32_t(seed >> 32)}};
  const r123::Philox4x32::ctr_type bits = r123::Philox4x32()(counter, key);
  return DropoutBits{{bits[0], bits[1], bits[2], bits[3]}};
}

// The Philox blocks covering elements [first_element, first_element + count) of a layer's
// (batch, features) activation numbered over the GLOBAL batch: with several ranks a slice starts
// at its first sample's place there, and its first and last blocks may be shared with the
// neighbouring slices (each rank keeps only its own words), so that the ranks together draw
// exactly one process's mask.
struct DropoutBlockRange {
  uint64_t first_block;
  uint64_t blocks;
};

TG_HOST_DEVICE DropoutBlockRange dropout_block_range(uint64_t first_element, uint64_t count) {
  const uint64_t first_block = first_element / 4;
  return DropoutBlockRange{first_block, (first_element + count + 3) / 4 - first_block};
}

// Kept when a uniform draw in [0, 1) (24 bits: every value exact in float) is at least `rate`,
// so a fraction `rate` of the elements is dropped.
TG_HOST_DEVICE bool dropout_keeps(uint32_t bits, float rate) {
  return float(bits >> 8) * (1.0f / 16777216.0f) >= rate;
}

// Inverted dropout: kept values are scaled by 1 / (1 - rate) in training, so evaluation, which
// keeps everything, needs no scaling.
TG_HOST_DEVICE float dropout_scale(float rate) { return 1.0f / (1.0f - rate); }

}  // namespace train_gpu::math
