// The CPU backend's one matrix product, row-major sgemm, through oneDNN: it dispatches on the
// instruction sets the CPU reports (avx512_core, avx2, ... and whatever newer CPUs add), where
// Debian's OpenBLAS 0.3.21 picks kernels from a table of CPU models and falls back to SSE3 on
// CPUs newer than itself. Why oneDNN won over OpenBLAS here: README, "CPU speed".
#pragma once

#include <string>

namespace train_gpu::cpu {

enum class Transpose { kNo, kYes };

// C (m, n) = op(A) (m, k) · op(B) (k, n) + beta * C, every matrix row-major with the given
// leading dimensions (op(X) = X or X^T). Throws Error naming the shape when oneDNN refuses.
void sgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

// "oneDNN 2.6.3 avx512_core_amx": the library and the instruction set its kernels use here.
std::string gemm_library();

}  // namespace train_gpu::cpu
