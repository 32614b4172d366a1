// How each dense-layer product maps onto one column-major GEMM call (cuBLAS's convention).
// Plain C++, so the CPU tests run the same arguments through a reference column-major GEMM.
//
// Layout mapping, stated once for the whole project: every matrix is the ROW-MAJOR array of
// model_spec.h (activations (count, features), weights (out, in) as in PyTorch). cuBLAS is
// column-major, and a row-major (r x c) array with leading dimension c IS the column-major
// (c x r) matrix, its transpose. So a row-major product C = A · B is computed as the
// column-major C^T = B^T · A^T: swap the operands, keep each one's "transposed" flag, and pass
// m = columns of C, n = rows of C, with each leading dimension the row length of its array.
#pragma once

namespace train_gpu::cuda {

// C (m x n, column-major, ldc) = op(A) (m x k) · op(B) (k x n), with A and B given as arrays of
// leading dimension lda, ldb. Which arrays play A and B is said per function below.
struct ColumnMajorGemm {
  bool transpose_a;
  bool transpose_b;
  int m;
  int n;
  int k;
  int lda;
  int ldb;
  int ldc;
};

// Y (count, out) = X (count, in) · W (out, in)^T.
// Column-major: Y^T (out x count) = op_T(W array: (in x out)) · op_N(X array: (in x count)).
// A = weight, B = input, C = output.
constexpr ColumnMajorGemm dense_forward_gemm(int count, int in_features, int out_features) {
  return {true, false, out_features, count, in_features, in_features, in_features, out_features};
}

// dW (out, in) = dY (count, out)^T · X (count, in).
// Column-major: dW^T (in x out) = op_N(X array: (in x count)) · op_T(dY array: (out x count)).
// A = input, B = doutput, C = weight_grad.
constexpr ColumnMajorGemm dense_backward_weight_gemm(int count, int in_features, int out_features) {
  return {false, true, in_features, out_features, count, in_features, out_features, in_features};
}

// dX (count, in) = dY (count, out) · W (out, in).
// Column-major: dX^T (in x count) = op_N(W array: (in x out)) · op_N(dY array: (out x count)).
// A = weight, B = doutput, C = dinput.
constexpr ColumnMajorGemm dense_backward_input_gemm(int count, int in_features, int out_features) {
  return {false, false, in_features, count, out_features, in_features, out_features, in_features};
}

}  // namespace train_gpu::cuda
