// Which of a training run's settings the HParams dashboard compares runs by: the ones a Keras user
// tunes (learning rate, batch size, epochs, optimizer), the model and data it trained, and the
// seed, so two runs that differ only by chance are seen to.
#pragma once

#include <string>
#include <vector>

#include "host/model/backend.h"
#include "host/tensorboard/summaries.h"
#include "host/train/trainer.h"

namespace train_gpu::tensorboard {

// learning_rate (the float as typed: 0.001, not 0.0010000000474974513), batch_size and epochs as
// numbers; optimizer, model, dataset and seed as text (a seed's range means nothing, and a 64-bit
// one need not fit a double).
std::vector<HParam> run_hparams(const TrainConfig& config, const std::string& dataset_name);

}  // namespace train_gpu::tensorboard
