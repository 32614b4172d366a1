// `train`'s optimizer, learning-rate schedule, validation, early-stopping, clipping and
// label-smoothing flags (README, "Training controls", lists them beside Keras's and PyTorch's
// names): declared once here, and resolved into the TrainConfig and BackendOptions they set after
// a resume has filled in what the command line left out (resume_settings.h).
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "host/cli/train_options.h"

namespace train_gpu::cli {

void add_training_control_options(CLI::App& command, TrainOptions& options);

// The optimizer and schedule names into options.config, the optimizer's default learning rate
// where --lr was not given, the cosine's horizon (--lr-decay-epochs, default --epochs); an Error
// for a flag the chosen optimizer or schedule does not read, naming the one that does.
void resolve_training_controls(const CLI::App& command, TrainOptions& options);

// config.json's record of them ("training" gets "optimizer", "lr_schedule", ...).
void add_training_controls_json(const TrainOptions& options, nlohmann::json& training);

}  // namespace train_gpu::cli
