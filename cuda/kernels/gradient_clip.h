// --clip-norm on the device: the gradient arena's global norm and clipping's factor, computed by
// one launch per step and left in device memory for the optimizer kernel to multiply by (see
// gradient_clip.cu). Nothing comes back to the host, so a replayed CUDA graph stays valid.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/memory.h"

namespace train_gpu::cuda {

// Owns the device scalars of the reduction: one partial per block, the arrival counter and the
// factor itself. Set up once (zeroes the counter on `stream`); enqueue() then never allocates.
class GradientClip {
 public:
  GradientClip(float clip_norm, cudaStream_t stream);

  // Enqueues *scale() = math::clip_scale(sum_i gradients[i]^2, clip_norm) over [0, count), and
  // returns scale(). Gradients are read only. One launch; no host sync.
  const float* enqueue(const float* gradients, std::size_t count, cudaStream_t stream);

  // The factor of the last enqueued step (device memory).
  const float* scale() const { return scale_.data(); }

 private:
  float clip_norm_;
  DeviceBuffer<double> partials_;
  DeviceBuffer<unsigned int> counter_;
  DeviceBuffer<float> scale_;
};

}  // namespace train_gpu::cuda
