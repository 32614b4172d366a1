// Which cuDNN convolution algorithm to run, decided from cuDNN's own candidate list (cudnnFind*
// benchmarks or cudnnGet*_v7 heuristics, both ordered best first). Plain C++ over a neutral
// struct so the rule is tested without a device or cuDNN.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace train_gpu::cuda {

struct AlgorithmCandidate {
  int algorithm = 0;           // cudnnConvolution{Fwd,BwdFilter}Algo_t
  bool succeeded = false;      // status == CUDNN_STATUS_SUCCESS
  bool deterministic = false;  // determinism == CUDNN_DETERMINISTIC
  bool tensor_core_math = false;  // mathType is a TENSOR_OP type (TF32 on Hopper for fp32 data)
  std::size_t workspace_bytes = 0;
};

struct AlgorithmRequirements {
  bool deterministic_only = false;
  bool allow_tensor_cores = false;  // --tf32
  std::size_t max_workspace_bytes = 0;
};

// Index of the first candidate (the list is ordered best first) that succeeded and meets the
// requirements; -1 when none does.
inline int choose_algorithm(const std::vector<AlgorithmCandidate>& candidates, const AlgorithmRequirements& needs) {
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const AlgorithmCandidate& c = candidates[i];
    if (!c.succeeded) continue;
    if (needs.deterministic_only && !c.deterministic) continue;
    if (!needs.allow_tensor_cores && c.tensor_core_math) continue;
    if (c.workspace_bytes > needs.max_workspace_bytes) continue;
    return static_cast<int>(i);
  }
  return -1;
}

// One line for an Error when choose_algorithm found nothing: what was asked and what was offered.
inline std::string describe_no_algorithm(const char* operation, const std::vector<AlgorithmCandidate>& candidates,
                                         const AlgorithmRequirements& needs) {
  std::string text = std::string("no cuDNN ") + operation + " algorithm meets the requirements (" +
                     (needs.deterministic_only ? "deterministic, " : "") +
                     (needs.allow_tensor_cores ? "" : "FP32 without tensor cores, ") + "workspace <= " +
                     std::to_string(needs.max_workspace_bytes >> 20) + " MiB); cuDNN offered " +
                     std::to_string(candidates.size()) + ":";
  for (const AlgorithmCandidate& c : candidates) {
    text += " [algo " + std::to_string(c.algorithm) + (c.succeeded ? "" : " failed") +
            (c.deterministic ? " deterministic" : " nondeterministic") + (c.tensor_core_math ? " tensor-op" : "") +
            " " + std::to_string(c.workspace_bytes) + " B]";
  }
  return text + ". Try without --deterministic, or with --tf32";
}

}  // namespace train_gpu::cuda
