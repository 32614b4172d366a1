// --kernels classic|fused and --pooling fused|cudnn, resolved. Plain C++ (tested on the CPU).
//
// classic: the step as first written: separate bias + ReLU kernels, cuBLAS GEMMs, one-block
//          reductions. The default until a device run has proven the fused set (docs/performance.md).
// fused:   bias + ReLU and their gradients in cuBLASLt epilogues, the convolution's bias and ReLU
//          in the pooling kernels, multi-block deterministic reductions (dense_epilogue.cu, pool.cu).
// Pooling: fused = the custom argmax kernels (pool.cu), cudnn = cuDNN's pooling (cudnn_pool.cu).
#pragma once

#include <string>

#include "host/common/error.h"

namespace train_gpu::cuda {

enum class KernelSet { kClassic, kFused };
enum class PoolingKind { kFused, kCudnn };

inline KernelSet parse_kernel_set(const std::string& option) {
  if (option == "classic" || option.empty()) return KernelSet::kClassic;
  if (option == "fused") return KernelSet::kFused;
  throw Error("--kernels '" + option + "': expected classic or fused");
}

inline PoolingKind parse_pooling(const std::string& option) {
  if (option == "fused" || option.empty()) return PoolingKind::kFused;
  if (option == "cudnn") return PoolingKind::kCudnn;
  throw Error("--pooling '" + option + "': expected fused or cudnn");
}

inline const char* kernel_set_name(KernelSet kernels) { return kernels == KernelSet::kFused ? "fused" : "classic"; }
inline const char* pooling_name(PoolingKind pooling) { return pooling == PoolingKind::kCudnn ? "cudnn" : "fused"; }

}  // namespace train_gpu::cuda
