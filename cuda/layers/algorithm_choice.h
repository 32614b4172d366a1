// Which cuDNN convolution algorithm to run, decided from cuDNN's own candidate list (cudnnFind*
// benchmarks or cudnnGet*_v7 heuristics, both ordered best first). Plain C++ over a neutral
// struct so the rule is tested without a device or cuDNN (tests/cuda_host_logic_test.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "host/model/convolution_algorithms.h"

namespace train_gpu::cuda {

struct AlgorithmCandidate {
  int algorithm = 0;           // cudnnConvolution{Fwd,BwdFilter}Algo_t
  bool succeeded = false;      // status == CUDNN_STATUS_SUCCESS
  bool deterministic = false;  // determinism == CUDNN_DETERMINISTIC
  bool tensor_core_math = false;  // mathType is a TENSOR_OP type (TF32 on Hopper for fp32 data)
  int math_type = 0;           // the cudnnMathType_t it was offered with, to run it with
  std::size_t workspace_bytes = 0;
};

struct AlgorithmRequirements {
  bool deterministic_only = false;
  bool allow_tensor_cores = false;  // --tf32
  std::size_t max_workspace_bytes = 0;
};

// Where the candidates come from. cudnnFind* times every algorithm on the device, so two
// processes can rank them differently and run different ones: fine for speed, wrong for
// --deterministic, whose bits must repeat across processes (a rerun, a resume, a bench). There,
// and when the caller asks for specific algorithms (a resume's recorded ones, a test's pin), the
// candidates come from cuDNN's heuristic query (cudnnGet*_v7) instead: a function of the GPU, the
// cuDNN version, the shapes and the math type, with no timing, so the same machine and library
// give the same choice every time.
enum class AlgorithmSearch { kBenchmark, kHeuristic };

inline AlgorithmSearch algorithm_search(bool deterministic_only, bool algorithms_requested) {
  return deterministic_only || algorithms_requested ? AlgorithmSearch::kHeuristic : AlgorithmSearch::kBenchmark;
}

inline bool meets(const AlgorithmCandidate& c, const AlgorithmRequirements& needs) {
  return c.succeeded && (c.deterministic || !needs.deterministic_only) &&
         (!c.tensor_core_math || needs.allow_tensor_cores) && c.workspace_bytes <= needs.max_workspace_bytes;
}

// Index of the candidate to run: the one whose algorithm is `preferred` (>= 0) when it meets the
// requirements, else the first (the list is ordered best first) that does; -1 when none does.
inline int choose_algorithm(const std::vector<AlgorithmCandidate>& candidates, const AlgorithmRequirements& needs,
                            int preferred = -1) {
  if (preferred >= 0) {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].algorithm == preferred && meets(candidates[i], needs)) return static_cast<int>(i);
    }
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (meets(candidates[i], needs)) return static_cast<int>(i);
  }
  return -1;
}

// Whether the candidate list already offers `algorithm`; when it does not, conv.cu asks cuDNN
// about that one algorithm directly (its workspace size: an error status means unsupported).
inline bool offers(const std::vector<AlgorithmCandidate>& candidates, int algorithm) {
  for (const AlgorithmCandidate& c : candidates) {
    if (c.algorithm == algorithm) return true;
  }
  return false;
}

// cuDNN's documented determinism, for an algorithm cuDNN was asked about directly rather than
// listed with its determinism field: every forward algorithm is deterministic; of the
// backward-filter ones, ALGO_0 and ALGO_3 sum with atomics and are not (cudnn_ops.h).
inline bool documented_deterministic_backward_filter(int algorithm) { return algorithm != 0 && algorithm != 3; }

// ConvolutionAlgorithms::how for what was run: "benchmarked (cudnnFind)", "as requested",
// "heuristic (cudnnGet*_v7, untimed)", or the heuristic's choice with the requested pair that
// could not be used here named (so a resume on another GPU says why its bits may differ).
inline std::string how_chosen(AlgorithmSearch search, const ConvolutionAlgorithms& requested,
                              const ConvolutionAlgorithms& ran) {
  if (search == AlgorithmSearch::kBenchmark) return "benchmarked (cudnnFind)";
  if (!requested.chosen()) return "heuristic (cudnnGet*_v7, untimed)";
  if (requested.same_algorithms(ran)) return "as requested";
  return "heuristic (cudnnGet*_v7, untimed); the requested " + describe(requested) + " is not usable here";
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
