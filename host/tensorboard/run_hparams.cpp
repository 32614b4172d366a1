#include "host/tensorboard/run_hparams.h"

#include <charconv>
#include <cstdlib>

#include "host/model/model_spec.h"

namespace train_gpu::tensorboard {

namespace {

// The shortest decimal that reads back as `value` (std::to_chars), read as a double: what the
// user typed for --learning-rate, where a plain widening shows float's rounding error.
double as_typed(float value) {
  char text[32];
  const std::to_chars_result written = std::to_chars(text, text + sizeof(text) - 1, value);
  *written.ptr = '\0';
  return std::strtod(text, nullptr);
}

}  // namespace

std::vector<HParam> run_hparams(const TrainConfig& config, const AdamConfig& adam, const std::string& dataset_name) {
  return {{"learning_rate", as_typed(adam.learning_rate)},
          {"batch_size", static_cast<double>(config.batch_size)},
          {"epochs", static_cast<double>(config.epochs)},
          {"optimizer", std::string("adam")},
          {"model", std::string(model::kModelDescription)},
          {"dataset", dataset_name},
          {"seed", std::to_string(config.seed)}};
}

}  // namespace train_gpu::tensorboard
