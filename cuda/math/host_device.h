// TG_HOST_DEVICE marks the per-element math that both backends share: nvcc compiles it for the
// GPU kernels, g++ compiles the same text for the CPU backend and the tests that check it.
#pragma once

#if defined(__CUDACC__)
#define TG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TG_HOST_DEVICE inline
#endif
