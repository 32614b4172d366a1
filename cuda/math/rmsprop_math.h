// RMSprop as Keras 3 implements it (keras.optimizers.RMSprop, defaults learning_rate 0.001,
// rho 0.9, momentum 0.0, epsilon 1e-7, centered False; centered is not offered here):
//
//   velocity <- rho * velocity + (1 - rho) * g^2
//   increment = lr * g / sqrt(velocity + epsilon)        (epsilon INSIDE the root, unlike Adam's)
//   momentum == 0:  w <- w - increment
//   else:           mom <- momentum * mom + increment;  w <- w - mom
//
// PyTorch's torch.optim.RMSprop differs: alpha 0.99 and epsilon 1e-8 added OUTSIDE the root.
// Every operation is rounded on its own (rounded_float.h), as for Adam.
#pragma once

#include "cuda/math/host_device.h"
#include "cuda/math/rounded_float.h"

namespace train_gpu::math {

// One element; `velocity` (and `mom` when momentum != 0) updated in place, the new weight returned.
TG_HOST_DEVICE float rmsprop_update(float weight, float gradient, float& velocity, float& mom, float learning_rate,
                                    float rho, float momentum, float epsilon) {
  velocity = add_rn(mul_rn(rho, velocity), mul_rn(sub_rn(1.0f, rho), mul_rn(gradient, gradient)));
  const float increment = div_rn(mul_rn(learning_rate, gradient), sqrt_rn(add_rn(velocity, epsilon)));
  if (momentum == 0.0f) return sub_rn(weight, increment);
  mom = add_rn(mul_rn(momentum, mom), increment);
  return sub_rn(weight, mom);
}

}  // namespace train_gpu::math
