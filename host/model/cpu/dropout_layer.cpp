#include "host/model/cpu/dropout_layer.h"

#include <algorithm>

#include "cuda/math/dropout_math.h"
#include "host/common/error.h"
#include "host/model/cpu_threads.h"

namespace train_gpu::cpu {

namespace {

// Philox blocks per parallel_for index: 4 elements each, 64 KB of floats a chunk.
constexpr std::size_t kBlocksPerChunk = 4096;

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
  const float* input = args.input;
  float* output = args.output;
  uint8_t* mask = mask_.data();
  // Elements are numbered over the GLOBAL batch: a rank whose slice starts at sample
  // first_sample draws the blocks one process would for those samples, and no other rank's.
  const std::size_t base = std::size_t(args.first_sample) * size_;
  const std::size_t first_block = base / 4;
  const std::size_t blocks = (base + count + 3) / 4 - first_block;
  const int chunks = int((blocks + kBlocksPerChunk - 1) / kBlocksPerChunk);
  parallel_for(chunks, [=](int chunk) {
    const std::size_t first = std::size_t(chunk) * kBlocksPerChunk;
    const std::size_t last = std::min(blocks, first + kBlocksPerChunk);
    for (std::size_t local_block = first; local_block < last; ++local_block) {
      const std::size_t block = first_block + local_block;
      const math::DropoutBits bits = math::dropout_bits(seed, step, layer, block);
      for (std::size_t j = 0; j < 4; ++j) {
        const std::size_t element = block * 4 + j;
        if (element < base || element >= base + count) continue;
        const std::size_t i = element - base;
        const bool keep = math::dropout_keeps(bits.word[j], rate);
        mask[i] = keep ? 1 : 0;
        output[i] = keep ? input[i] * scale : 0.0f;
      }
    }
  });
}

void DropoutLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  const std::size_t count = std::size_t(args.count) * size_;
  const float scale = rate_ == 0.0f ? 1.0f : math::dropout_scale(rate_);
  for (std::size_t i = 0; i < count; ++i) args.dinput[i] = mask_[i] != 0 ? args.doutput[i] * scale : 0.0f;
}

}  // namespace train_gpu::cpu
