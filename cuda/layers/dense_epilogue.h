// Dense layers on cuBLASLt with the bias, the ReLU and their gradients folded into the GEMMs'
// epilogues (--kernels fused), so a dense layer's forward is one kernel and each bias gradient
// comes out of a GEMM the backward pass runs anyway (see dense_epilogue.cu). Same row-major
// conventions and column-major mapping as dense.h (gemm_mapping.h). Every call runs on the
// stream given at construction and OVERWRITES its outputs.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <string>

namespace train_gpu::cuda {

enum class DenseEpilogue {
  kForwardBiasRelu,      // Y = relu(X·W^T + b), plus the ReLU mask
  kForwardBias,          // Y = X·W^T + b
  kBackwardWeightBias,   // dW = dY^T·X, db = sum over the batch of dY
  kBackwardInputRelu,    // dX = relu'(mask) ⊙ (dY·W), db_prev = sum over the batch of dX
};

// Bytes of the ReLU mask for a (count, features) activation: cuBLASLt stores one bit per
// element with a leading dimension that must be a multiple of 128 bits.
constexpr std::size_t dense_relu_mask_bytes(int count, int features) {
  return static_cast<std::size_t>((features + 127) / 128 * 128 / 8) * static_cast<std::size_t>(count);
}

class EpilogueDense {
 public:
  // workspace (device, `workspace_bytes`) may be shared with cuBLAS calls on the same stream.
  // tf32 selects CUBLAS_COMPUTE_32F_FAST_TF32 instead of plain fp32.
  EpilogueDense(cudaStream_t stream, void* workspace, std::size_t workspace_bytes, bool tf32);
  ~EpilogueDense();
  EpilogueDense(const EpilogueDense&) = delete;
  EpilogueDense& operator=(const EpilogueDense&) = delete;

  // Whether cuBLASLt offers an algorithm for this epilogue and shape (its heuristic is asked
  // once per shape, host-only, no sync). Callers check before calling the matching function
  // and run the unfused sequence otherwise.
  bool supports(DenseEpilogue epilogue, int count, int in_features, int out_features);

  // output (count, out) = relu(input (count, in) · weight (out, in)^T + bias); relu_mask
  // (dense_relu_mask_bytes(count, out)) receives what backward_input_relu needs.
  void forward_bias_relu(int count, int in_features, int out_features, const float* input, const float* weight,
                         const float* bias, float* output, void* relu_mask);

  // output (count, out) = input · weight^T + bias.
  void forward_bias(int count, int in_features, int out_features, const float* input, const float* weight,
                    const float* bias, float* output);

  // weight_grad (out, in) = doutput (count, out)^T · input (count, in); bias_grad (out) = column
  // sums of doutput.
  void backward_weight_bias(int count, int in_features, int out_features, const float* input, const float* doutput,
                            float* weight_grad, float* bias_grad);

  // dinput (count, in) = (doutput (count, out) · weight (out, in)) masked by the ReLU that
  // produced this layer's input (relu_mask from forward_bias_relu of the previous layer), and
  // input_bias_grad (in) = column sums of the masked dinput: the previous layer's bias gradient.
  void backward_input_relu(int count, int in_features, int out_features, const float* doutput, const float* weight,
                           const void* relu_mask, float* dinput, float* input_bias_grad);

  // "cuBLASLt epilogues: ..." for logs and tests: which epilogues were found for which shapes.
  std::string describe() const;

 private:
  struct Plans;
  std::unique_ptr<Plans> plans_;
};

}  // namespace train_gpu::cuda
