#include "host/model/cpu/dropout_layer.h"

#include <algorithm>
#include <cstring>

#include "cuda/math/dropout_math.h"
#include "host/common/error.h"
#include "host/model/cpu_threads.h"

namespace train_gpu::cpu {

namespace {

// Philox blocks per parallel_for index: 4 elements each, 64 KB of floats a chunk.
constexpr std::size_t kBlocksPerChunk = 4096;
// Blocks whose words one pass computes before the next applies them: 4 KB, in L1.
constexpr std::size_t kBlocksPerGroup = 256;

// `value` with its bits ANDed with `bits`: itself for all ones, +0.0f for zero.
inline float float_bits_and(float value, uint32_t bits) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  word &= bits;
  std::memcpy(&value, &word, sizeof word);
  return value;
}

}  // namespace

DropoutLayer::DropoutLayer(const model::NetworkSpec& spec, int layer_index, int max_batch)
    : layer_index_(layer_index) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  if (layer.kind != model::LayerKind::kDropout) throw Error("DropoutLayer: layer " + layer.name + " is not a Dropout");
  rate_ = layer.rate;
  size_ = std::size_t(layer.output.size());
  mask_.assign(std::size_t(max_batch) * size_, 1);
}

void DropoutLayer::forward(const LayerForward& args) {
  const std::size_t count = std::size_t(args.count) * size_;
  if (!args.training || rate_ == 0.0f) {
    std::copy(args.input, args.input + count, args.output);
    std::fill(mask_.begin(), mask_.begin() + std::ptrdiff_t(count), uint8_t{1});
    return;
  }
  const float rate = rate_, scale = math::dropout_scale(rate_);
  const uint64_t seed = args.seed;
  const int64_t step = args.step;
  const int layer = layer_index_;
  const float* __restrict input = args.input;
  float* __restrict output = args.output;
  uint8_t* __restrict mask = mask_.data();
  // Elements are numbered over the GLOBAL batch: a rank whose slice starts at sample
  // first_sample draws the blocks one process would for those samples, and no other rank's.
  const std::size_t base = std::size_t(args.first_sample) * size_;
  const math::DropoutBlockRange range = math::dropout_block_range(base, count);
  const std::size_t first_block = range.first_block;
  const std::size_t blocks = range.blocks;
  const int chunks = int((blocks + kBlocksPerChunk - 1) / kBlocksPerChunk);
  parallel_for(chunks, [=](int chunk) {
    // Two loops over each group of blocks, each without branches, so both vectorize: the Philox
    // words first (independent per block), then the masks and outputs from them.
    uint32_t words[kBlocksPerGroup * 4];
    const std::size_t chunk_end = std::min(blocks, std::size_t(chunk + 1) * kBlocksPerChunk);
    for (std::size_t first = std::size_t(chunk) * kBlocksPerChunk; first < chunk_end; first += kBlocksPerGroup) {
      const std::size_t group = std::min(kBlocksPerGroup, chunk_end - first);
      for (std::size_t b = 0; b < group; ++b) {
        const math::DropoutBits bits = math::dropout_bits(seed, step, layer, first_block + first + b);
        for (int j = 0; j < 4; ++j) words[4 * b + std::size_t(j)] = bits.word[j];
      }
      // The group's elements in the global numbering, clipped to this slice.
      const std::size_t group_start = (first_block + first) * 4;
      const std::size_t begin = std::max(base, group_start), end = std::min(base + count, group_start + group * 4);
      for (std::size_t e = begin; e < end; ++e) {
        const bool keep = math::dropout_keeps(words[e - group_start], rate);
        const std::size_t i = e - base;
        mask[i] = keep ? 1 : 0;
        output[i] = float_bits_and(input[i] * scale, 0u - uint32_t(keep));
      }
    }
  });
}

void DropoutLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  const std::size_t count = std::size_t(args.count) * size_;
  const float scale = rate_ == 0.0f ? 1.0f : math::dropout_scale(rate_);
  const uint8_t* __restrict mask = mask_.data();
  const float* __restrict doutput = args.doutput;
  float* __restrict dinput = args.dinput;
  // mask ? doutput * scale : 0 as a product and a bitwise AND with all ones or all zeros (the
  // same bits): written as a select, the compiler emits a branch per element, which a random
  // mask mispredicts half the time, and the loop does not vectorize.
  for (std::size_t i = 0; i < count; ++i) {
    dinput[i] = float_bits_and(doutput[i] * scale, 0u - uint32_t(mask[i]));
  }
}

}  // namespace train_gpu::cpu
