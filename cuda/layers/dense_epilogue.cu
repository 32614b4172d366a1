// The dense layers with their elementwise neighbours folded into cuBLASLt epilogues:
//
//   forward fc1:   H = relu(P·W1^T + b1)          RELU_AUX_BIAS (also writes the ReLU bit mask)
//   forward fc2:   Z = H·W2^T + b2                BIAS
//   backward fc2:  dW2 = dZ^T·H,  db2 = Σ_n dZ    BGRADB (bias gradient of the B operand, dZ)
//                  dH = relu'(mask) ⊙ (dZ·W2),    DRELU_BGRAD (mask from fc1's forward)
//                  db1 = Σ_n dH
//
// which replaces four bias/ReLU kernels and two channel sums per step. cuBLASLt documents these
// epilogues for fp32 data with CUBLAS_COMPUTE_32F; whether it has a kernel for a given shape is
// its heuristic's answer, asked once per shape (supports()), and the backend keeps the unfused
// sequence (dense.cu + bias_activation.cu) for any shape it declines.
//
// Layout (cublasLt.h, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD): the ReLU mask is one bit per element
// of D, column-major with a leading dimension in bits that must be a multiple of 128. D is the
// transposed activation (features x count, gemm_mapping.h), so the mask of fc1's forward (128 x
// count) and of fc2's input gradient dH^T (128 x count) have the same shape and ld: the forward
// writes exactly what DRELU_BGRAD reads. Bias vectors are packed fp32 of length rows(D) (BIAS,
// DRELU_BGRAD) or columns(D) (BGRADB), as the header states.
//
// Pointers: alignment is part of what the heuristic assumes, so plans are searched with a
// 16-byte alignment floor (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*) and calls check it.
#include "cuda/layers/dense_epilogue.h"

#include <cublasLt.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <tuple>
#include <type_traits>

#include "cuda/check.h"
#include "cuda/layers/gemm_mapping.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;
constexpr uint32_t kAlignmentBytes = 16;

struct LtHandleDeleter {
  void operator()(cublasLtHandle_t handle) const noexcept { (void)cublasLtDestroy(handle); }
};
struct DescDeleter {
  void operator()(cublasLtMatmulDesc_t desc) const noexcept { (void)cublasLtMatmulDescDestroy(desc); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayout_t layout) const noexcept { (void)cublasLtMatrixLayoutDestroy(layout); }
};
struct PreferenceDeleter {
  void operator()(cublasLtMatmulPreference_t preference) const noexcept {
    (void)cublasLtMatmulPreferenceDestroy(preference);
  }
};
using LtHandle = std::unique_ptr<std::remove_pointer_t<cublasLtHandle_t>, LtHandleDeleter>;
using MatmulDesc = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>, DescDeleter>;
using Layout = std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>, LayoutDeleter>;
using Preference = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>, PreferenceDeleter>;

cublasOperation_t op(bool transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

const char* name_of(DenseEpilogue epilogue) {
  switch (epilogue) {
    case DenseEpilogue::kForwardBiasRelu: return "RELU_AUX_BIAS";
    case DenseEpilogue::kForwardBias: return "BIAS";
    case DenseEpilogue::kBackwardWeightBias: return "BGRADB";
    case DenseEpilogue::kBackwardInputRelu: return "DRELU_BGRAD";
  }
  return "?";
}

cublasLtEpilogue_t lt_epilogue(DenseEpilogue epilogue) {
  switch (epilogue) {
    case DenseEpilogue::kForwardBiasRelu: return CUBLASLT_EPILOGUE_RELU_AUX_BIAS;
    case DenseEpilogue::kForwardBias: return CUBLASLT_EPILOGUE_BIAS;
    case DenseEpilogue::kBackwardWeightBias: return CUBLASLT_EPILOGUE_BGRADB;
    case DenseEpilogue::kBackwardInputRelu: return CUBLASLT_EPILOGUE_DRELU_BGRAD;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

// Which product of gemm_mapping.h an epilogue rides on.
ColumnMajorGemm gemm_for(DenseEpilogue epilogue, int count, int in_features, int out_features) {
  switch (epilogue) {
    case DenseEpilogue::kForwardBiasRelu:
    case DenseEpilogue::kForwardBias: return dense_forward_gemm(count, in_features, out_features);
    case DenseEpilogue::kBackwardWeightBias: return dense_backward_weight_gemm(count, in_features, out_features);
    case DenseEpilogue::kBackwardInputRelu: return dense_backward_input_gemm(count, in_features, out_features);
  }
  return dense_forward_gemm(count, in_features, out_features);
}

bool uses_relu_mask(DenseEpilogue epilogue) {
  return epilogue == DenseEpilogue::kForwardBiasRelu || epilogue == DenseEpilogue::kBackwardInputRelu;
}

Layout make_layout(int rows, int cols, int ld) {
  cublasLtMatrixLayout_t layout = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, CUDA_R_32F, static_cast<uint64_t>(rows),
                                          static_cast<uint64_t>(cols), ld));
  return Layout(layout);
}

void check_aligned(const void* pointer, const char* what) {
  if (reinterpret_cast<std::uintptr_t>(pointer) % kAlignmentBytes != 0) {
    throw Error(std::string("cuBLASLt dense layer: ") + what + " is not " + std::to_string(kAlignmentBytes) +
                "-byte aligned");
  }
}

struct Plan {
  bool supported = false;
  MatmulDesc desc;
  Layout a, b, c;
  cublasLtMatmulAlgo_t algo{};
};

}  // namespace

struct EpilogueDense::Plans {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  bool tf32 = false;
  LtHandle handle;
  std::map<std::tuple<int, int, int, int>, Plan> plans;  // (epilogue, count, in, out)

  Plan& find_or_build(DenseEpilogue epilogue, int count, int in_features, int out_features) {
    const auto key = std::make_tuple(static_cast<int>(epilogue), count, in_features, out_features);
    auto found = plans.find(key);
    if (found == plans.end()) found = plans.emplace(key, build(epilogue, count, in_features, out_features)).first;
    return found->second;
  }

  Plan build(DenseEpilogue epilogue, int count, int in_features, int out_features) const {
    if (count <= 0 || in_features <= 0 || out_features <= 0) {
      throw Error("cuBLASLt dense layer: shape (" + std::to_string(count) + ", " + std::to_string(in_features) +
                  " -> " + std::to_string(out_features) + ") must be positive");
    }
    const ColumnMajorGemm g = gemm_for(epilogue, count, in_features, out_features);
    Plan plan;
    cublasLtMatmulDesc_t desc = nullptr;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F));
    plan.desc = MatmulDesc(desc);
    const cublasOperation_t trans_a = op(g.transpose_a);
    const cublasOperation_t trans_b = op(g.transpose_b);
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b));
    const cublasLtEpilogue_t lt = lt_epilogue(epilogue);
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &lt, sizeof lt));
    const cudaDataType_t bias_type = CUDA_R_32F;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
    // Stand-in pointers with exactly the guaranteed alignment: the heuristic reads their value
    // for alignment only; the real ones are set at each call.
    const void* aligned_stand_in = reinterpret_cast<const void*>(std::uintptr_t{kAlignmentBytes});
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &aligned_stand_in,
                                                sizeof aligned_stand_in));
    if (uses_relu_mask(epilogue)) {
      const int64_t mask_ld = (g.m + 127) / 128 * 128;  // bits; rows(D) = the activation's features
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &mask_ld, sizeof mask_ld));
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aligned_stand_in,
                                                  sizeof aligned_stand_in));
    }
    plan.a = g.transpose_a ? make_layout(g.k, g.m, g.lda) : make_layout(g.m, g.k, g.lda);
    plan.b = g.transpose_b ? make_layout(g.n, g.k, g.ldb) : make_layout(g.k, g.n, g.ldb);
    plan.c = make_layout(g.m, g.n, g.ldc);

    cublasLtMatmulPreference_t raw_preference = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&raw_preference));
    const Preference preference(raw_preference);
    const uint64_t max_workspace = workspace_bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(raw_preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &max_workspace, sizeof max_workspace));
    for (const cublasLtMatmulPreferenceAttributes_t attribute :
         {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(raw_preference, attribute, &kAlignmentBytes,
                                                        sizeof kAlignmentBytes));
    }
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    // Not CUBLAS_CHECKed: "not supported" is an answer here, not an error.
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle.get(), desc, plan.a.get(), plan.b.get(),
                                                                 plan.c.get(), plan.c.get(), raw_preference, 1,
                                                                 &result, &returned);
    plan.supported = status == CUBLAS_STATUS_SUCCESS && returned > 0 && result.state == CUBLAS_STATUS_SUCCESS;
    if (plan.supported) plan.algo = result.algo;
    return plan;
  }

  void run(DenseEpilogue epilogue, int count, int in_features, int out_features, const float* a, const float* b,
           float* c, const void* bias, const void* relu_mask) {
    Plan& p = find_or_build(epilogue, count, in_features, out_features);
    if (!p.supported) {
      throw Error(std::string("cuBLASLt offers no ") + name_of(epilogue) + " algorithm for batch " +
                  std::to_string(count) + " (" + std::to_string(in_features) + " -> " + std::to_string(out_features) +
                  "); check supports() first");
    }
    for (const void* pointer : {static_cast<const void*>(a), static_cast<const void*>(b),
                                static_cast<const void*>(c), bias}) {
      check_aligned(pointer, "an operand");
    }
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    if (uses_relu_mask(epilogue)) {
      check_aligned(relu_mask, "the ReLU mask");
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &relu_mask,
                                                  sizeof relu_mask));
    }
    CUBLAS_CHECK(cublasLtMatmul(handle.get(), p.desc.get(), &kOne, a, p.a.get(), b, p.b.get(), &kZero, c, p.c.get(), c,
                                p.c.get(), &p.algo, workspace, workspace_bytes, stream));
  }
};

EpilogueDense::EpilogueDense(cudaStream_t stream, void* workspace, std::size_t workspace_bytes, bool tf32)
    : plans_(std::make_unique<Plans>()) {
  plans_->stream = stream;
  plans_->workspace = workspace;
  plans_->workspace_bytes = workspace_bytes;
  plans_->tf32 = tf32;
  cublasLtHandle_t handle = nullptr;
  CUBLAS_CHECK(cublasLtCreate(&handle));
  plans_->handle = LtHandle(handle);
}

EpilogueDense::~EpilogueDense() = default;

bool EpilogueDense::supports(DenseEpilogue epilogue, int count, int in_features, int out_features) {
  return plans_->find_or_build(epilogue, count, in_features, out_features).supported;
}

void EpilogueDense::forward_bias_relu(int count, int in_features, int out_features, const float* input,
                                      const float* weight, const float* bias, float* output, void* relu_mask) {
  // Y^T = W · X^T: A = weight, B = input (gemm_mapping.h)
  plans_->run(DenseEpilogue::kForwardBiasRelu, count, in_features, out_features, weight, input, output, bias,
              relu_mask);
}

void EpilogueDense::forward_bias(int count, int in_features, int out_features, const float* input,
                                 const float* weight, const float* bias, float* output) {
  plans_->run(DenseEpilogue::kForwardBias, count, in_features, out_features, weight, input, output, bias, nullptr);
}

void EpilogueDense::backward_weight_bias(int count, int in_features, int out_features, const float* input,
                                         const float* doutput, float* weight_grad, float* bias_grad) {
  // dW^T = X^T · dY: A = input, B = doutput; BGRADB sums B = dY over k = the batch
  plans_->run(DenseEpilogue::kBackwardWeightBias, count, in_features, out_features, input, doutput, weight_grad,
              bias_grad, nullptr);
}

void EpilogueDense::backward_input_relu(int count, int in_features, int out_features, const float* doutput,
                                        const float* weight, const void* relu_mask, float* dinput,
                                        float* input_bias_grad) {
  // dX^T = W^T · dY^T: A = weight, B = doutput; DRELU_BGRAD masks D and sums it over n = the batch
  plans_->run(DenseEpilogue::kBackwardInputRelu, count, in_features, out_features, weight, doutput, dinput,
              input_bias_grad, relu_mask);
}

std::string EpilogueDense::describe() const {
  std::ostringstream out;
  out << "cuBLASLt epilogues:";
  for (const auto& [key, plan] : plans_->plans) {
    const auto [epilogue, count, in_features, out_features] = key;
    out << " " << name_of(static_cast<DenseEpilogue>(epilogue)) << "(" << count << "x" << in_features << "->"
        << out_features << ")" << (plan.supported ? "" : " unsupported") << ";";
  }
  return out.str();
}

}  // namespace train_gpu::cuda
