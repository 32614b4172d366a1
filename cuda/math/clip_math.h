// Gradient clipping by global norm (--clip-norm; Keras's global_clipnorm, PyTorch's
// clip_grad_norm_): every gradient of the step is multiplied by
//
//   scale = clip_norm / max(||g||, clip_norm)       ||g|| = sqrt(sum_i g_i^2) over the whole arena
//
// which is exactly 1 while the norm is within the bound (Keras's clip_by_global_norm). The sum
// of squares is accumulated in double by each backend (the CPU per chunk in index order, the GPU
// per block, cuda/kernels/gradient_clip.cu): float squares are exact in double, so the two sums
// differ only in the order of ~700k additions, ~1e-16 relative, far below the float the factor
// is rounded to. The optimizers then read the gradient times the factor (math::mul_rn, when
// clipping is on), in the same shared per-element code on both backends.
#pragma once

#include <math.h>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

// Clipping's factor for a gradient of global norm sqrt(squared_norm) under the bound clip_norm.
TG_HOST_DEVICE float clip_scale(double squared_norm, float clip_norm) {
  const double norm = sqrt(squared_norm);
  const double bound = static_cast<double>(clip_norm);
  // A NaN norm compares false and leaves the gradients as they are: the step's non-finite
  // gradient check reports them.
  return norm > bound ? static_cast<float>(bound / norm) : 1.0f;
}

}  // namespace train_gpu::math
