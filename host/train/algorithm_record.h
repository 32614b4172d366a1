// How a run records the cuDNN convolution algorithms its backend ran: in every checkpoint's
// metadata, so `--resume` asks the new backend for the same pair (bitwise continuation under
// --deterministic needs the same algorithms, and cudnnFind could rank them differently), and in
// config.json, for the reader. Nothing is recorded for the CPU backend.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "host/model/convolution_algorithms.h"

namespace train_gpu {

// Adds cudnn.forward_algorithm, cudnn.backward_filter_algorithm and cudnn.algorithms_how to a
// checkpoint's extra metadata when `algorithms` were chosen; adds nothing otherwise.
void record_conv_algorithms(const ConvolutionAlgorithms& algorithms, std::map<std::string, std::string>& extra);

// The pair recorded by record_conv_algorithms; none (not chosen()) when the checkpoint has none
// (a CPU run, or an older checkpoint). A malformed record is an Error naming the key.
ConvolutionAlgorithms recorded_conv_algorithms(const std::map<std::string, std::string>& extra);

// config.json's "cudnn_algorithms": {"forward": "IMPLICIT_PRECOMP_GEMM", "forward_id": 1,
// "backward_filter": "ALGO_1", "backward_filter_id": 1, "how": "..."}; null when none.
nlohmann::json conv_algorithms_json(const ConvolutionAlgorithms& algorithms);

}  // namespace train_gpu
