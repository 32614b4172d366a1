// AdamW as Keras 3 implements it (keras.optimizers.AdamW, defaults learning_rate 0.001,
// weight_decay 0.004, beta_1 0.9, beta_2 0.999, epsilon 1e-7): decoupled weight decay
// (Loshchilov & Hutter), applied to the weight BEFORE the Adam update, scaled by the current
// (scheduled) learning rate, not by Adam's bias-corrected step size:
//
//   w <- w - (w * weight_decay) * lr                     (BaseOptimizer._apply_weight_decay)
//   then Adam's update (adam_math.h) on that w
//
// PyTorch's torch.optim.AdamW does the same decay (w *= 1 - lr * wd) with weight_decay 0.01 by
// default. Rounded operation by operation, as adam_math.h says why.
#pragma once

#include "cuda/math/adam_math.h"
#include "cuda/math/host_device.h"
#include "cuda/math/rounded_float.h"

namespace train_gpu::math {

// One element: m and v updated in place, the new weight returned. step_size is
// adam_step_size(lr, beta1, beta2, t) of the same lr.
TG_HOST_DEVICE float adamw_update(float weight, float gradient, float& m, float& v, float beta1, float beta2,
                                  float step_size, float epsilon, float learning_rate, float weight_decay) {
  const float decayed = sub_rn(weight, mul_rn(mul_rn(weight, weight_decay), learning_rate));
  return adam_update(decayed, gradient, m, v, beta1, beta2, step_size, epsilon);
}

}  // namespace train_gpu::math
