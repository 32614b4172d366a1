#include "host/train/algorithm_record.h"

#include "host/common/error.h"

namespace train_gpu {

namespace {

constexpr const char* kForwardKey = "cudnn.forward_algorithm";
constexpr const char* kBackwardFilterKey = "cudnn.backward_filter_algorithm";
constexpr const char* kHowKey = "cudnn.algorithms_how";  // for readers; a resume needs only the two numbers

// A small non-negative integer (cuDNN's enums have fewer than 100 values).
int parse_algorithm(const std::map<std::string, std::string>& extra, const char* key) {
  const auto found = extra.find(key);
  if (found == extra.end()) return -1;
  const std::string& text = found->second;
  bool digits = !text.empty() && text.size() <= 2;
  for (const char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits) throw Error(std::string("checkpoint metadata '") + key + "' is '" + text + "', not a cuDNN algorithm number");
  return std::stoi(text);
}

}  // namespace

void record_conv_algorithms(const ConvolutionAlgorithms& algorithms, std::map<std::string, std::string>& extra) {
  if (!algorithms.chosen()) return;
  extra[kForwardKey] = std::to_string(algorithms.forward);
  extra[kBackwardFilterKey] = std::to_string(algorithms.backward_filter);
  extra[kHowKey] = algorithms.how;
}

ConvolutionAlgorithms recorded_conv_algorithms(const std::map<std::string, std::string>& extra) {
  ConvolutionAlgorithms algorithms;
  algorithms.forward = parse_algorithm(extra, kForwardKey);
  algorithms.backward_filter = parse_algorithm(extra, kBackwardFilterKey);
  if (!algorithms.chosen()) return ConvolutionAlgorithms{};  // none, or half a record: choose afresh
  algorithms.how = "recorded in the checkpoint";
  return algorithms;
}

nlohmann::json conv_algorithms_json(const ConvolutionAlgorithms& algorithms) {
  if (!algorithms.chosen()) return nullptr;
  return {{"forward", forward_algorithm_name(algorithms.forward)},
          {"forward_id", algorithms.forward},
          {"backward_filter", backward_filter_algorithm_name(algorithms.backward_filter)},
          {"backward_filter_id", algorithms.backward_filter},
          {"how", algorithms.how}};
}

}  // namespace train_gpu
