// The optimizer's update on the CPU, over any stretch of a parameter arena of any size: the
// per-element math is the shared __host__ __device__ code (cuda/math/adam_math.h, adamw_math.h,
// sgd_math.h, rmsprop_math.h) the CUDA kernels run too, so the two backends agree bit for bit.
#pragma once

#include <cstddef>

#include "host/model/backend.h"

namespace train_gpu::cpu {

// Updates weights[begin, end) from gradient[begin, end) (each gradient times gradient_scale
// first, unless it is 1: clipping's factor) with `config`'s optimizer at `step`, and its state
// slots (slot0, slot1: see cuda/math/optimizer_math.h) in place.
void optimizer_update(const OptimizerConfig& config, const math::OptimizerStep& step, float gradient_scale,
                      std::size_t begin, std::size_t end, float* weights, const float* gradient, float* slot0,
                      float* slot1);

// Sum of the squares of values[0, count), accumulated in double in index order: a chunk's share
// of the global gradient norm that --clip-norm needs (math::clip_scale, cuda/math/clip_math.h,
// turns the total into the factor).
double sum_of_squares(const float* values, std::size_t count);

}  // namespace train_gpu::cpu
