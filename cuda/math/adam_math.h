// Adam as Keras implements it (TF 2 tf.keras.optimizers.Adam, amsgrad off):
//
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)      (computed once per step, not per element)
//   w <- w - lr_t * m / (sqrt(v) + epsilon)
//
// Note epsilon is added to sqrt(v) WITHOUT bias-correcting v: Keras's "epsilon hat" form.
//
// This is the ONE definition of Adam's math: the CUDA kernel (cuda/kernels/adam.cu) and the CPU
// backend both call adam_update, and adam_step_size is what the CPU backend, the CUDA backend's
// eager launches and a replayed graph's device-side step counters (cuda/math/step_counters.h)
// all evaluate; they must agree bit for bit. So it must NOT be contracted into fused multiply-adds
// on either side: every operation goes through rounded_float.h (mul_rn, add_rn, ...), which nvcc
// cannot fuse, and host code is compiled with -ffp-contract=off. A CPU loop rewritten for speed must keep calling adam_update (or the same
// *_rn sequence) rather than re-spelling the formula. Tested by
// AdamMathTest.EachOperationIsRoundedOnItsOwn and StepSizeIsTheFormulaRoundedToFloat (host),
// tests/gpu/adam_ptx_test.cpp (no fma in the PTX of the kernels that evaluate either) and, on a
// GPU, CudaKernels.AdamMatchesTheSharedUpdateBitwise and tests/gpu/step_math_test.cu.
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/math/host_device.h"
#include "cuda/math/rounded_float.h"

namespace train_gpu::math {

// Bias-corrected step size for step t (1-based: the first update uses t = 1). Double precision
// because beta2^t for t in the tens of thousands must not round 1 - beta2^t to garbage.
// The host (eager launches, the CPU backend) and the device (a replayed CUDA graph advances t
// itself, cuda/math/step_counters.h) both evaluate it, and they must agree to the bit: so only
// correctly rounded IEEE operations, never contracted (cuda/math/rounded_float.h), and
// beta^t by binary exponentiation rather than pow(), whose last bit differs between libraries.
TG_HOST_DEVICE float adam_step_size(float learning_rate, float beta1, float beta2, int64_t t) {
  const double correction1 = sub_rn(1.0, power_rn(double(beta1), t));
  const double correction2 = sub_rn(1.0, power_rn(double(beta2), t));
  return to_float_rn(div_rn(mul_rn(double(learning_rate), sqrt_rn(correction2)), correction1));
}

// One element's update; m and v are updated in place, the new weight is returned.
// Evaluation order, each step rounded to float:
//   m = (beta1 * m) + ((1 - beta1) * g);   v = (beta2 * v) + (((1 - beta2) * g) * g)
//   w - ((step_size * m) / (sqrt(v) + epsilon))
TG_HOST_DEVICE float adam_update(float weight, float gradient, float& m, float& v, float beta1, float beta2,
                                 float step_size, float epsilon) {
  m = add_rn(mul_rn(beta1, m), mul_rn(sub_rn(1.0f, beta1), gradient));
  v = add_rn(mul_rn(beta2, v), mul_rn(mul_rn(sub_rn(1.0f, beta2), gradient), gradient));
  return sub_rn(weight, div_rn(mul_rn(step_size, m), add_rn(sqrt_rn(v), epsilon)));
}

}  // namespace train_gpu::math
