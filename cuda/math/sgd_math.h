// SGD with optional (Nesterov) momentum as Keras 3 implements it (keras.optimizers.SGD, defaults
// learning_rate 0.01, momentum 0.0, nesterov False):
//
//   momentum == 0:  w <- w - lr * g                         (no state)
//   else:           velocity <- momentum * velocity - lr * g
//                   w <- w + velocity                        (nesterov false)
//                   w <- w + (momentum * velocity - lr * g)  (nesterov true, with the NEW velocity)
//
// Keras's velocity carries the learning rate (PyTorch's buffer does not: torch.optim.SGD with
// dampening 0 gives the same weights at a constant lr, not under a schedule). Like adam_math.h,
// every operation is rounded on its own (rounded_float.h) so the CPU and the CUDA kernel agree
// bit for bit.
#pragma once

#include "cuda/math/host_device.h"
#include "cuda/math/rounded_float.h"

namespace train_gpu::math {

// One element; `velocity` is updated in place when momentum != 0, the new weight is returned.
// Keras's order: (velocity * momentum) - (g * lr).
TG_HOST_DEVICE float sgd_update(float weight, float gradient, float& velocity, float learning_rate, float momentum,
                                bool nesterov) {
  if (momentum == 0.0f) return sub_rn(weight, mul_rn(gradient, learning_rate));
  velocity = sub_rn(mul_rn(velocity, momentum), mul_rn(gradient, learning_rate));
  if (nesterov) return add_rn(weight, sub_rn(mul_rn(velocity, momentum), mul_rn(gradient, learning_rate)));
  return add_rn(weight, velocity);
}

}  // namespace train_gpu::math
