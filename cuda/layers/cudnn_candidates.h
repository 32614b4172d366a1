// cuDNN's algorithm lists (cudnnFind*/cudnnGet*_v7 results, one struct type per operation) as
// algorithm_choice.h's neutral candidates, for every convolution that chooses through it: the
// tutorial's (conv.cu) and the spec-driven networks' (cuda/network/conv2d_layer.cu).
#pragma once

#include <vector>

#include "cuda/cudnn_api.h"
#include "cuda/layers/algorithm_choice.h"

namespace train_gpu::cuda {

inline bool is_tensor_op(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

template <typename Perf>
std::vector<AlgorithmCandidate> to_candidates(const Perf* results, int returned) {
  std::vector<AlgorithmCandidate> candidates;
  for (int i = 0; i < returned; ++i) {
    AlgorithmCandidate c;
    c.algorithm = static_cast<int>(results[i].algo);
    c.succeeded = results[i].status == CUDNN_STATUS_SUCCESS;
    c.deterministic = results[i].determinism == CUDNN_DETERMINISTIC;
    c.tensor_core_math = is_tensor_op(results[i].mathType);
    c.math_type = static_cast<int>(results[i].mathType);
    c.workspace_bytes = results[i].memory;
    candidates.push_back(c);
  }
  return candidates;
}

}  // namespace train_gpu::cuda
