// Which math the GPU backend runs, as cuBLAS and cuDNN report it back (cublasGetMathMode on the
// handle, cudnnGetConvolutionMathType on the convolution descriptors) rather than as the options
// asked for it: a --tf32 that does not take effect, or TF32 switched on without it, shows in the
// device line, in config.json and in the tests. Plain C++ so the wording is tested on the CPU.
#pragma once

#include <string>

namespace train_gpu::cuda {

struct MathModes {
  bool cublas_tf32 = false;           // the cuBLAS handle's mode is CUBLAS_TF32_TENSOR_OP_MATH
  bool conv_forward_tensor = false;   // the forward descriptor's math type is not CUDNN_FMA_MATH,
                                      // so cuDNN may use tensor cores (TF32 for fp32 on Ampere+)
  bool conv_backward_tensor = false;  // the same for the backward-filter descriptor
};

// "FP32 math (no TF32)" when nothing may use TF32, else "TF32 allowed in " and the parts that may,
// e.g. "TF32 allowed in cuBLAS, conv forward".
inline std::string describe_math(const MathModes& modes) {
  std::string parts;
  const auto add = [&parts](bool allowed, const char* part) {
    if (!allowed) return;
    if (!parts.empty()) parts += ", ";
    parts += part;
  };
  add(modes.cublas_tf32, "cuBLAS");
  add(modes.conv_forward_tensor, "conv forward");
  add(modes.conv_backward_tensor, "conv backward-filter");
  return parts.empty() ? "FP32 math (no TF32)" : "TF32 allowed in " + parts;
}

}  // namespace train_gpu::cuda
