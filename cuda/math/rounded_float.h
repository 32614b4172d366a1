// Float and double arithmetic with every operation rounded on its own (round to nearest even),
// never fused: the same bits from nvcc's device code and from g++/clang's host code.
//
// Why: nvcc contracts `a * b + c` into one fma.rn.f32/f64 by default (-fmad=true), which skips
// the product's rounding; g++ rounds twice. The same __host__ __device__ formula then differs in
// the last bit between the GPU and its CPU oracle (and, in Adam's m where b1*m and (1-b1)*g nearly
// cancel, by far more than a relative ulp). On the device the __f*_rn / __d*_rn intrinsics compile
// to PTX mul.rn/add.rn/..., which the PTX ISA says the optimizer treats conservatively: ptxas
// never fuses an operation that carries an explicit rounding modifier (tests/gpu/adam_ptx_test.cpp
// checks the PTX). On the host these are plain operators; what keeps the host compiler from
// contracting them is -ffp-contract=off on all host code (host/CMakeLists.txt; clang contracts
// within an expression by default, g++ does with -ffp-contract=fast). Division and square root
// are correctly rounded on both sides (IEEE on the device whatever -prec-div/-prec-sqrt say;
// the x86 instructions on the host).
//
// Float for Adam's per-element update, double for its once-per-step step size (adam_math.h).
// The overloads take both operands of one type: a mixed call is ambiguous and does not compile,
// so no silent promotion changes which rounding happens.
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

// ---------------------------------------------------------------------------------------------
// float

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
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

TG_HOST_DEVICE float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return sqrtf(a);
#endif
}

// ---------------------------------------------------------------------------------------------
// double

TG_HOST_DEVICE double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

TG_HOST_DEVICE double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

TG_HOST_DEVICE double sub_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

TG_HOST_DEVICE double div_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

TG_HOST_DEVICE double sqrt_rn(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return sqrt(a);
#endif
}

TG_HOST_DEVICE float to_float_rn(double a) {
#if defined(__CUDA_ARCH__)
  return __double2float_rn(a);
#else
  return static_cast<float>(a);
#endif
}

// base^exponent (exponent >= 0) by binary exponentiation: the same sequence of correctly rounded
// multiplications on host and device (pow()'s last bit differs between libm and CUDA's).
// Each squaring doubles the relative error it inherits, so the result is within about
// exponent * 2^-53 of base^exponent (relative): 1e-11 at t = 1e5. For Adam's 1 - beta^t that
// stays below ~1e-13 relative at every t (where the subtraction cancels, t is small), six orders
// of magnitude under the float the step size is rounded to.
TG_HOST_DEVICE double power_rn(double base, int64_t exponent) {
  double result = 1.0;
  while (exponent > 0) {
    if ((exponent & 1) != 0) result = mul_rn(result, base);
    exponent >>= 1;
    if (exponent > 0) base = mul_rn(base, base);
  }
  return result;
}

}  // namespace train_gpu::math
