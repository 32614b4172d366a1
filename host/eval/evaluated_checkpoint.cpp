#include "host/eval/evaluated_checkpoint.h"

namespace train_gpu::eval {

namespace {

nlohmann::json optional_number(const std::optional<int64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string optional_text(const std::optional<int64_t>& value) { return value ? std::to_string(*value) : "-"; }

}  // namespace

nlohmann::json checkpoint_fields(const EvaluatedCheckpoint& checkpoint) {
  return {{"checkpoint", checkpoint.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(checkpoint.file.string())},
          {"epoch", optional_number(checkpoint.epoch)},
          {"step", optional_number(checkpoint.step)},
          {"batches_into_epoch", checkpoint.batches_into_epoch}};
}

std::string figure_caption(const EvaluatedCheckpoint& checkpoint) {
  return "EPOCH " + optional_text(checkpoint.epoch) + " STEP " + optional_text(checkpoint.step);
}

}  // namespace train_gpu::eval
