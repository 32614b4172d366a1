// One thread per Philox block of four elements: one generator call gives the four words the CPU
// layer uses for the same elements (of the global batch, with several ranks).
#include "cuda/network/dropout_layer.h"

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/dropout_math.h"
#include "cuda/math/step_counters.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// Elements are numbered over the GLOBAL batch, as the CPU layer numbers them: this slice's element
// i is element first_element + i there, and a thread draws one Philox block of that numbering,
// writing the words that fall inside the slice. The step is read here, not passed: in a replayed
// graph it is the device's step counter (math::forward_step).
__global__ void dropout_forward_kernel(const float* input, float* output, uint8_t* mask, size_t first_element,
                                       size_t count, float rate, float scale, uint64_t seed,
                                       math::PerStep<int64_t> step_source, int layer) {
  const int64_t step = math::forward_step(step_source);
  const math::DropoutBlockRange range = math::dropout_block_range(first_element, count);
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t b = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < range.blocks; b += stride) {
    const size_t block = range.first_block + b;
    const math::DropoutBits bits = math::dropout_bits(seed, step, layer, block);
    for (size_t j = 0; j < 4; ++j) {
      const size_t element = block * 4 + j;
      if (element < first_element || element >= first_element + count) continue;
      const size_t i = element - first_element;
      const bool keep = math::dropout_keeps(bits.word[j], rate);
      mask[i] = keep ? 1 : 0;
      output[i] = keep ? input[i] * scale : 0.0f;
    }
  }
}

__global__ void dropout_backward_kernel(const float* doutput, const uint8_t* mask, float* dinput, size_t count,
                                        float scale) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    dinput[i] = mask[i] != 0 ? doutput[i] * scale : 0.0f;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layer

DropoutLayer::DropoutLayer(const model::NetworkSpec& spec, int layer_index, int max_batch) : layer_index_(layer_index) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  if (layer.kind != model::LayerKind::kDropout) throw Error("cuda DropoutLayer: layer " + layer.name + " is not a Dropout");
  rate_ = layer.rate;
  size_ = std::size_t(layer.output.size());
  mask_ = DeviceBuffer<uint8_t>(std::size_t(max_batch) * size_, "a dropout mask");
}

void DropoutLayer::forward(const LayerForward& args) {
  const std::size_t count = std::size_t(args.count) * size_;
  if (!args.training || rate_ == 0.0f) {
    CUDA_CHECK(cudaMemcpyAsync(args.output, args.input, count * sizeof(float), cudaMemcpyDeviceToDevice, args.stream));
    CUDA_CHECK(cudaMemsetAsync(mask_.data(), 1, count, args.stream));
    return;
  }
  const std::size_t first_element = std::size_t(args.first_sample) * size_;
  dropout_forward_kernel<<<blocks_for(math::dropout_block_range(first_element, count).blocks), kThreadsPerBlock, 0,
                           args.stream>>>(
      args.input, args.output, mask_.data(), first_element, count, rate_, math::dropout_scale(rate_), args.seed,
      args.step, layer_index_);
  CUDA_CHECK(cudaGetLastError());
}

void DropoutLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  const std::size_t count = std::size_t(args.count) * size_;
  const float scale = rate_ == 0.0f ? 1.0f : math::dropout_scale(rate_);
  dropout_backward_kernel<<<blocks_for(count), kThreadsPerBlock, 0, args.stream>>>(args.doutput, mask_.data(),
                                                                                   args.dinput, count, scale);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
