// The cuDNN convolution algorithms a CUDA backend runs, as the host records them: config.json,
// checkpoint metadata (so a resume runs the same ones) and the device check's summary. The values
// are cuDNN's enums, cudnnConvolutionFwdAlgo_t and cudnnConvolutionBwdFilterAlgo_t; the names
// below are cuDNN's without the CUDNN_CONVOLUTION_*_ALGO_ prefix, and cuda/layers/conv.cu
// static_asserts that the two tables still line up. Plain C++, so CPU-only builds read and write
// these records too.
#pragma once

#include <string>

namespace train_gpu {

struct ConvolutionAlgorithms {
  int forward = -1;          // -1: none (the CPU backend), or in BackendOptions "choose here"
  int backward_filter = -1;
  std::string how;           // how they were chosen, e.g. "benchmarked (cudnnFind)"; empty when none

  bool chosen() const { return forward >= 0 && backward_filter >= 0; }
  bool same_algorithms(const ConvolutionAlgorithms& other) const {
    return forward == other.forward && backward_filter == other.backward_filter;
  }
};

// "IMPLICIT_PRECOMP_GEMM"; "unknown" for a value outside cuDNN 9's table.
inline const char* forward_algorithm_name(int algorithm) {
  static const char* const kNames[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM",    "DIRECT",
                                       "FFT",           "FFT_TILING",            "WINOGRAD", "WINOGRAD_NONFUSED"};
  return algorithm >= 0 && algorithm < int(sizeof kNames / sizeof kNames[0]) ? kNames[algorithm] : "unknown";
}

// "ALGO_1"; "unknown" for a value outside cuDNN 9's table.
inline const char* backward_filter_algorithm_name(int algorithm) {
  static const char* const kNames[] = {"ALGO_0",   "ALGO_1",           "FFT",       "ALGO_3",
                                       "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return algorithm >= 0 && algorithm < int(sizeof kNames / sizeof kNames[0]) ? kNames[algorithm] : "unknown";
}

// "forward IMPLICIT_PRECOMP_GEMM (1), backward-filter ALGO_1 (1)"; "none" when not chosen.
inline std::string describe(const ConvolutionAlgorithms& algorithms) {
  if (!algorithms.chosen()) return "none";
  return std::string("forward ") + forward_algorithm_name(algorithms.forward) + " (" +
         std::to_string(algorithms.forward) + "), backward-filter " +
         backward_filter_algorithm_name(algorithms.backward_filter) + " (" + std::to_string(algorithms.backward_filter) +
         ")";
}

}  // namespace train_gpu
