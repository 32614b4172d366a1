#include "host/tensorboard/tensorboard_log.h"

#include <utility>
#include <vector>

#include "host/common/error.h"
#include "host/eval/confusion_picture.h"
#include "host/model/model_spec.h"
#include "host/tensorboard/summaries.h"
#include "host/train/atomic_file.h"

namespace train_gpu::tensorboard {

namespace fs = std::filesystem;

namespace {

std::string running_tag(const char* name) { return std::string(kRunningTagPrefix) + name; }

// Markdown for the Text dashboard: the JSON as a fenced code block, which TensorBoard's Markdown
// (with the fenced_code extension) shows verbatim in a monospace font.
std::string config_markdown(const std::string& json) { return "```json\n" + json + "\n```"; }

}  // namespace

TensorBoardLog::TensorBoardLog(fs::path directory, int64_t running_every, std::string config_json, std::ostream& log)
    : directory_(std::move(directory)), running_every_(running_every), config_json_(std::move(config_json)), log_(log) {
  if (running_every_ < 0) throw Error("--tensorboard-every must be 0 (off) or a number of steps, not " + std::to_string(running_every_));
}

void TensorBoardLog::on_run_start(const RunStart& start) {
  remove_stale_temporaries(directory_);
  const std::vector<std::string> notices = start.resumed
                                              ? drop_events_after(directory_, start.epochs_completed, start.step).notices
                                              : remove_earlier_run(directory_);
  for (const std::string& notice : notices) log_ << "tensorboard: " << notice << "\n";
  writer_ = std::make_unique<EventFileWriter>(directory_);
  log_ << "tensorboard: " << writer_->path().string() << " (view: tensorboard --logdir " << directory_.parent_path().string()
       << ")\n";
  if (!start.resumed) {
    if (!config_json_.empty()) writer_->write(summary_event(0, {text_value("config", config_markdown(config_json_))}));
    if (start.state) write_weights(0, *start.state);
  }
  writer_->flush();
}

void TensorBoardLog::on_running_totals(int64_t, int64_t step, const PassTotals& epoch_so_far) {
  if (!writer_) return;
  writer_->write(summary_event(step, {scalar_value(running_tag("train_loss"), epoch_so_far.mean_batch_loss()),
                                      scalar_value(running_tag("train_accuracy"), epoch_so_far.accuracy())}));
  writer_->flush();  // a few hundred bytes every few seconds at most: the live view is worth it
}

void TensorBoardLog::on_epoch_end(const EpochMetrics& metrics, int64_t, const ModelState& state) {
  if (!writer_) return;
  writer_->write(summary_event(metrics.epoch, {scalar_value("train_loss", metrics.train_loss),
                                               scalar_value("train_accuracy", metrics.train_accuracy),
                                               scalar_value("test_loss", metrics.test_loss),
                                               scalar_value("test_accuracy", metrics.test_accuracy),
                                               scalar_value("epoch_seconds", metrics.epoch_seconds),
                                               scalar_value("samples_per_second", metrics.samples_per_second)}));
  write_weights(metrics.epoch, state);
  writer_->flush();
}

void TensorBoardLog::write_weights(int64_t epoch, const ModelState& state) {
  if (state.parameters.size() != model::kParameterCount) {
    throw Error("tensorboard: expected " + std::to_string(model::kParameterCount) + " parameters, got " +
                std::to_string(state.parameters.size()));
  }
  std::vector<Summary::Value> values;
  for (const model::TensorSpec& tensor : model::kParameterTensors) {
    values.push_back(histogram_value(std::string("weights/") + tensor.name, state.parameters.data() + tensor.offset, tensor.count));
  }
  writer_->write(summary_event(epoch, std::move(values)));
}

void TensorBoardLog::add_evaluation(int64_t epoch, const eval::EvaluationReport& report) {
  if (!writer_) return;
  std::vector<Summary::Value> values{image_value("evaluation/confusion_matrix", eval::confusion_picture(report.confusion, eval::figure_caption(report.checkpoint)))};
  for (const fs::path& file : report.files) {
    if (file.extension() != ".png") continue;
    const std::string stem = file.stem().string();
    const char* tag = stem == "mistakes" ? "evaluation/mistakes" : stem.rfind("features-", 0) == 0 ? "evaluation/feature_maps" : nullptr;
    if (tag) values.push_back(image_value(tag, eval::read_png(file)));
  }
  writer_->write(summary_event(epoch, std::move(values)));
  writer_->flush();
}

}  // namespace train_gpu::tensorboard
