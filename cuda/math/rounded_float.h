// Float arithmetic with every operation rounded on its own (round to nearest even), never fused:
// the same bits from nvcc's device code and from g++/clang's host code.
//
// Why: nvcc contracts `a * b + c` into one fma.rn.f32 by default (-fmad=true), which skips the
// product's rounding; g++ rounds twice. The same __host__ __device__ formula then differs in the
// last bit between the GPU and its CPU oracle (and, in Adam's m where b1*m and (1-b1)*g nearly
// cancel, by far more than a relative ulp). On the device the __f*_rn intrinsics compile to PTX
// mul.rn/add.rn/..., which the PTX ISA says the optimizer treats conservatively: ptxas never
// fuses an operation that carries an explicit rounding modifier (tests/gpu/adam_ptx_test.cpp checks
// the PTX). On the host these are plain operators; what keeps the host compiler from contracting
// them is -ffp-contract=off on all host code (host/CMakeLists.txt; clang contracts within an
// expression by default, g++ does with -ffp-contract=fast).
#pragma once

#include <math.h>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

TG_HOST_DEVICE float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

TG_HOST_DEVICE float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

TG_HOST_DEVICE float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

TG_HOST_DEVICE float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);  // IEEE division whatever -prec-div says
#else
  return a / b;
#endif
}

TG_HOST_DEVICE float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);  // IEEE square root whatever -prec-sqrt says
#else
  return sqrtf(a);
#endif
}

}  // namespace train_gpu::math
