#include "host/tensorboard/run_hparams.h"

#include "host/model/model_spec.h"
#include "host/model/optimizer_names.h"
#include "host/train/run_config.h"

namespace train_gpu::tensorboard {

std::vector<HParam> run_hparams(const TrainConfig& config, const std::string& dataset_name) {
  return {{"learning_rate", float_as_typed(config.optimizer.learning_rate).get<double>()},
          {"batch_size", static_cast<double>(config.batch_size)},
          {"epochs", static_cast<double>(config.epochs)},
          {"optimizer", optimizer_name(config.optimizer.kind)},
          {"model", std::string(model::kModelDescription)},
          {"dataset", dataset_name},
          {"seed", std::to_string(config.seed)}};
}

}  // namespace train_gpu::tensorboard
