// Gradient clipping's factor over the whole gradient arena in one launch: each thread sums the
// squares of a grid-stride share in double, each block reduces its threads by a fixed tree, and
// the last block to arrive adds the blocks' partials in block order and writes
// math::clip_scale(sum, clip_norm) (cuda/math/clip_math.h, the CPU backend's function) to device
// memory (block_reduce.cuh). A fixed grid, not one sized to the device, so the order of the
// additions, and with it the factor's bits, is the same on every GPU and every run. The
// optimizer kernels read the factor from there (adam.cu, optimizers.cu): no host round trip,
// and a captured graph replays the reduction with the step.
#include "cuda/kernels/gradient_clip.h"

#include <string>

#include "cuda/check.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/clip_math.h"

namespace train_gpu::cuda {
namespace {

// 160 blocks of 256 threads: ~17 float loads per thread over the tutorial's 693,962 gradients,
// enough blocks to keep an H100's 132 SMs streaming.
constexpr unsigned int kClipBlocks = 160;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void gradient_clip_kernel(const float* gradients, size_t count, float clip_norm, double* partials,
                                     unsigned int* counter, float* scale) {
  __shared__ double shared[kThreadsPerBlock];
  double sum = 0.0;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const double g = static_cast<double>(gradients[i]);
    sum += g * g;  // the product of two floats is exact in double: a fused multiply-add changes nothing
  }
  const double block_sum = block_tree_sum<kThreadsPerBlock>(sum, shared);
  if (threadIdx.x != 0) return;
  partials[blockIdx.x] = block_sum;
  if (!arrived_last(counter, gridDim.x)) return;
  double total = 0.0;
  for (unsigned int b = 0; b < gridDim.x; ++b) total += __ldcg(partials + b);  // block order: reproducible
  *scale = math::clip_scale(total, clip_norm);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

GradientClip::GradientClip(float clip_norm, cudaStream_t stream)
    : clip_norm_(clip_norm),
      partials_(kClipBlocks, "the gradient norm's partials"),
      counter_(1, "the gradient norm's counter"),
      scale_(1, "the clipping factor") {
  if (!(clip_norm > 0.0f)) {
    throw Error("--clip-norm " + std::to_string(clip_norm) + ": must be positive to clip (0 turns clipping off)");
  }
  // The counter starts at zero; the kernel re-arms it after each use.
  CUDA_CHECK(cudaMemsetAsync(counter_.data(), 0, counter_.bytes(), stream));
}

const float* GradientClip::enqueue(const float* gradients, std::size_t count, cudaStream_t stream) {
  gradient_clip_kernel<<<kClipBlocks, kThreadsPerBlock, 0, stream>>>(gradients, count, clip_norm_, partials_.data(),
                                                                     counter_.data(), scale_.data());
  CUDA_CHECK(cudaGetLastError());
  return scale_.data();
}

}  // namespace train_gpu::cuda
