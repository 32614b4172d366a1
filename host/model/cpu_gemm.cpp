#include "host/model/cpu_gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include "host/common/error.h"

namespace train_gpu::cpu {

namespace {

char flag(Transpose transpose) { return transpose == Transpose::kYes ? 'T' : 'N'; }

// The names oneDNN's documentation uses (ONEDNN_MAX_CPU_ISA); oneDNN 3 adds newer ones and
// drops the Xeon Phi values, so only those both versions share are spelled out.
const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "newer isa";
  }
}

}  // namespace

void sgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(flag(transpose_a), flag(transpose_b), m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    throw Error("oneDNN sgemm (" + std::to_string(m) + " x " + std::to_string(n) + " x " + std::to_string(k) +
                ") failed with status " + std::to_string(int(status)));
  }
}

std::string gemm_library() {
  const dnnl_version_t* version = dnnl_version();
  return "oneDNN " + std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
         std::to_string(version->patch) + " " + isa_name(dnnl_get_effective_cpu_isa());
}

}  // namespace train_gpu::cpu
