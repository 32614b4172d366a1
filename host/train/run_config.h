// config.json: every resolved setting of a run, the dataset files with their sha256, the build
// and the device, so a run directory says exactly what produced it.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "host/data/dataset.h"
#include "host/model/convolution_algorithms.h"
#include "host/train/trainer.h"

namespace train_gpu {

nlohmann::json run_config_json(const TrainConfig& config, const Dataset& dataset,
                               const std::string& device_description, const ConvolutionAlgorithms& conv_algorithms,
                               const nlohmann::json& extra_settings);

// A float as the JSON number that reads as the float's shortest round-trip text (0.9, not
// 0.8999999761581421): the value the user typed, and parsed back to the same float.
nlohmann::json float_as_typed(float value);

// Writes config.json atomically-enough for a file written once at start-up.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& json);

}  // namespace train_gpu
