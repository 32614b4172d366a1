// Adam as Keras implements it (TF 2 tf.keras.optimizers.Adam, amsgrad off):
//
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)      (computed once per step, on the host)
//   w <- w - lr_t * m / (sqrt(v) + epsilon)
//
// Note epsilon is added to sqrt(v) WITHOUT bias-correcting v: Keras's "epsilon hat" form.
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

// Bias-corrected step size for step t (1-based: the first update uses t = 1). Double precision
// because beta2^t for t in the tens of thousands must not round 1 - beta2^t to garbage.
inline float adam_step_size(float learning_rate, float beta1, float beta2, int64_t t) {
  const double correction1 = 1.0 - pow(double(beta1), double(t));
  const double correction2 = 1.0 - pow(double(beta2), double(t));
  return static_cast<float>(double(learning_rate) * sqrt(correction2) / correction1);
}

// One element's update; m and v are updated in place, the new weight is returned.
TG_HOST_DEVICE float adam_update(float weight, float gradient, float& m, float& v, float beta1, float beta2,
                                 float step_size, float epsilon) {
  m = beta1 * m + (1.0f - beta1) * gradient;
  v = beta2 * v + (1.0f - beta2) * gradient * gradient;
  return weight - step_size * m / (sqrtf(v) + epsilon);
}

}  // namespace train_gpu::math
