// Which model an evaluation describes: the checkpoint file, its epoch and its step. Recorded in
// evaluation.json and drawn on the evaluation's pictures, so that a confusion matrix can never be
// taken for another epoch's (tools/plot.py matches it against metrics.csv).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace train_gpu::eval {

struct EvaluatedCheckpoint {
  std::filesystem::path file;          // absolute; empty when the weights came from no file
  std::optional<int64_t> epoch;        // epochs completed; unknown for a PyTorch state_dict
  std::optional<int64_t> step;         // Adam steps taken; unknown for a PyTorch state_dict
  int64_t batches_into_epoch = 0;      // > 0 for a checkpoint written mid-epoch (epoch + 1 in progress)
};

// evaluation.json's "checkpoint", "epoch", "step" and "batches_into_epoch" (null when unknown).
nlohmann::json checkpoint_fields(const EvaluatedCheckpoint& checkpoint);

// The pictures' caption, in the built-in font's letters (png_image.h): "EPOCH 3 STEP 2814", or
// "EPOCH - STEP -" for a state_dict without metadata.
std::string figure_caption(const EvaluatedCheckpoint& checkpoint);

}  // namespace train_gpu::eval
