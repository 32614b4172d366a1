// cuBLAS SGEMM calls for the two dense layers. Each call's column-major arguments come from
// gemm_mapping.h, where the row-major <-> column-major mapping is derived once and which the CPU
// tests check against a reference GEMM; each call site below names the row-major product.
// Math mode (FP32 or TF32) is a property of the handle, set once by the backend.
#include "cuda/layers/dense.h"

#include "cuda/check.h"
#include "cuda/layers/gemm_mapping.h"

namespace train_gpu::cuda {

namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

cublasOperation_t op(bool transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void dense_forward(cublasHandle_t cublas, const float* input, const float* weight, int count, int in_features,
                   int out_features, float* output) {
  // Y = X · W^T   (column-major: Y^T = W · X^T)
  const ColumnMajorGemm g = dense_forward_gemm(count, in_features, out_features);
  CUBLAS_CHECK(cublasSgemm(cublas, op(g.transpose_a), op(g.transpose_b), g.m, g.n, g.k, &kOne, weight, g.lda, input,
                           g.ldb, &kZero, output, g.ldc));
}

void dense_backward_weight(cublasHandle_t cublas, const float* input, const float* doutput, int count,
                           int in_features, int out_features, float* weight_grad) {
  // dW = dY^T · X   (column-major: dW^T = X^T · dY)
  const ColumnMajorGemm g = dense_backward_weight_gemm(count, in_features, out_features);
  CUBLAS_CHECK(cublasSgemm(cublas, op(g.transpose_a), op(g.transpose_b), g.m, g.n, g.k, &kOne, input, g.lda, doutput,
                           g.ldb, &kZero, weight_grad, g.ldc));
}

void dense_backward_input(cublasHandle_t cublas, const float* doutput, const float* weight, int count,
                          int in_features, int out_features, float* dinput) {
  // dX = dY · W   (column-major: dX^T = W^T · dY^T)
  const ColumnMajorGemm g = dense_backward_input_gemm(count, in_features, out_features);
  CUBLAS_CHECK(cublasSgemm(cublas, op(g.transpose_a), op(g.transpose_b), g.m, g.n, g.k, &kOne, weight, g.lda,
                           doutput, g.ldb, &kZero, dinput, g.ldc));
}

}  // namespace train_gpu::cuda
