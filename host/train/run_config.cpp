#include "host/train/run_config.h"

#include <charconv>
#include <cstdlib>
#include <fstream>

#include "build_info.h"
#include "host/common/error.h"
#include "host/model/backend_factory.h"
#include "host/model/model_spec.h"
#include "host/train/algorithm_record.h"

namespace train_gpu {

nlohmann::json float_as_typed(float value) {
  char text[64];
  const std::to_chars_result end = std::to_chars(text, text + sizeof text - 1, value);
  *end.ptr = '\0';
  // The decimal that round-trips the float, read as the double nearest it: the double prints as
  // that same decimal, since doubles print shortest too.
  return std::strtod(text, nullptr);
}

nlohmann::json run_config_json(const TrainConfig& config, const Dataset& dataset,
                               const std::string& device_description, const ConvolutionAlgorithms& conv_algorithms,
                               const nlohmann::json& extra_settings) {
  nlohmann::json json;
  json["model"] = {{"description", model::kModelDescription}, {"parameters", model::kParameterCount}};
  json["training"] = {{"epochs", config.epochs},
                      {"batch_size", config.batch_size},
                      {"test_batch_size", config.test_batch_size},
                      {"seed", config.seed},
                      {"dry_run", config.dry_run},
                      {"save_every", config.save_every},
                      {"keep_last", config.keep_last},
                      {"resume_from", config.resume_from.string()}};
  nlohmann::json files = nlohmann::json::array();
  for (const DatasetFile& file : dataset.files) {
    // Absolute, so a resume from another working directory finds the files.
    files.push_back({{"role", file.role},
                     {"path", std::filesystem::absolute(file.path).lexically_normal().string()},
                     {"sha256", file.sha256},
                     {"recognized", file.recognized}});
  }
  json["dataset"] = {{"name", dataset_kind_name(dataset.kind)},
                     {"dataset_name", dataset.name},  // an idx, cifar10 or folder set's own name; empty for the others
                     {"train_images", dataset.train.count},
                     {"test_images", dataset.test.count},
                     {"image_shape", {dataset.train.channels, dataset.train.rows, dataset.train.cols}},  // C, H, W
                     {"classes", dataset.train.classes},
                     {"class_names", dataset.class_names},
                     {"files", files}};
  json["device"] = device_description;
  json["cudnn_algorithms"] = conv_algorithms_json(conv_algorithms);
  json["build"] = {{"version", TRAIN_GPU_VERSION},
                   {"git_commit", TRAIN_GPU_GIT_COMMIT},
                   {"build_type", TRAIN_GPU_BUILD_TYPE},
                   {"cuda", built_with_cuda()}};
  json["settings"] = extra_settings;
  return json;
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& json) {
  std::ofstream out(file, std::ios::trunc);
  // Paths in it are bytes, not necessarily UTF-8; a strict dump would throw on the first bad one.
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (!out) throw Error("cannot write " + file.string());
}

}  // namespace train_gpu
