#include "host/tensorboard/tensorboard_log.h"

#include <utility>
#include <vector>

#include "host/common/error.h"
#include "host/eval/confusion_picture.h"
#include "host/train/atomic_file.h"

namespace train_gpu::tensorboard {

namespace fs = std::filesystem;

namespace {

// The tutorial's names of the values under Keras's tags, in each chart's tooltip: one text for
// both runs, since one chart shows both.
constexpr const char* kLossNames = "train: the tutorial's `train_loss`; validation: its `test_loss` (metrics.csv's columns)";
constexpr const char* kAccuracyNames =
    "train: the tutorial's `train_accuracy`; validation: its `test_accuracy` (metrics.csv's columns), fractions 0..1";

// With --validation-split the validation run shows the held-out split instead.
constexpr const char* kValidationLossNames = "train: metrics.csv's `train_loss`; validation: its `val_loss` (the held-out split)";
constexpr const char* kValidationAccuracyNames =
    "train: metrics.csv's `train_accuracy`; validation: its `val_accuracy` (the held-out split), fractions 0..1";

// Markdown for the Text dashboard: the JSON as a fenced code block, which TensorBoard's Markdown
// (with the fenced_code extension) shows verbatim in a monospace font.
std::string config_markdown(const std::string& json) { return "```json\n" + json + "\n```"; }

}  // namespace

TensorBoardLog::TensorBoardLog(fs::path run_directory, int64_t running_every, std::string config_json,
                               std::vector<HParam> hparams, std::ostream& log, model::NetworkSpec spec)
    : directory_(std::move(run_directory)),
      running_every_(running_every),
      config_json_(std::move(config_json)),
      hparams_(std::move(hparams)),
      log_(log),
      spec_(std::move(spec)) {
  if (running_every_ < 0) throw Error("--tensorboard-every must be 0 (off) or a number of steps, not " + std::to_string(running_every_));
}

void TensorBoardLog::on_run_start(const RunStart& start) {
  epochs_ = start.epochs;
  // "tensorboard": where runs before 2026-12 wrote their one event file; trimmed or removed with
  // the others, so a resumed old run does not show epochs twice.
  for (const fs::path& directory : {directory_, directory_ / kTrainRun, directory_ / kValidationRun, directory_ / "tensorboard"}) {
    remove_stale_temporaries(directory);
    const std::vector<std::string> notices = start.resumed
                                                ? drop_events_after(directory, start.epochs_completed, start.step).notices
                                                : remove_earlier_run(directory);
    for (const std::string& notice : notices) log_ << "tensorboard: " << notice << "\n";
  }
  run_writer_ = std::make_unique<EventFileWriter>(directory_);
  train_writer_ = std::make_unique<EventFileWriter>(directory_ / kTrainRun);
  validation_writer_ = std::make_unique<EventFileWriter>(directory_ / kValidationRun);
  log_ << "tensorboard: " << (directory_ / kTrainRun).string() << ", " << (directory_ / kValidationRun).string()
       << " (view: tensorboard --logdir " << directory_.parent_path().string() << ")\n";
  std::vector<Summary::Value> run_values{hparams_start_value(hparams_, wall_time_now())};
  if (!start.resumed && !config_json_.empty()) run_values.push_back(text_value("config", config_markdown(config_json_)));
  run_writer_->write(summary_event(0, std::move(run_values)));
  if (!start.resumed && start.state) write_weights(0, *start.state);
  for (EventFileWriter* writer : {run_writer_.get(), train_writer_.get(), validation_writer_.get()}) writer->flush();
}

void TensorBoardLog::on_running_totals(int64_t, int64_t step, const PassTotals& epoch_so_far) {
  if (!train_writer_) return;
  train_writer_->write(summary_event(step, {scalar_value("batch_loss", epoch_so_far.mean_batch_loss()),
                                            scalar_value("batch_accuracy", epoch_so_far.accuracy())}));
  train_writer_->flush();  // a few hundred bytes every few seconds at most: the live view is worth it
}

void TensorBoardLog::on_epoch_end(const EpochMetrics& metrics, int64_t, const ModelState& state) {
  if (!train_writer_) return;
  train_writer_->write(summary_event(metrics.epoch, {scalar_value("epoch_loss", metrics.train_loss, kLossNames),
                                                     scalar_value("epoch_accuracy", metrics.train_accuracy, kAccuracyNames),
                                                     scalar_value("epoch_seconds", metrics.epoch_seconds),
                                                     scalar_value("epoch_samples_per_second", metrics.samples_per_second),
                                                     scalar_value("epoch_learning_rate", metrics.learning_rate)}));
  write_weights(metrics.epoch, state);
  // Without a validation split the test set is the "validation" run, as Keras's
  // fit(validation_data=test) shows it; with one, the split is (as fit(validation_split=...)) and
  // the test set's values go beside it as epoch_test_loss and epoch_test_accuracy.
  if (metrics.has_validation) {
    validation_writer_->write(summary_event(metrics.epoch, {scalar_value("epoch_loss", metrics.val_loss, kValidationLossNames),
                                                            scalar_value("epoch_accuracy", metrics.val_accuracy, kValidationAccuracyNames),
                                                            scalar_value("epoch_test_loss", metrics.test_loss),
                                                            scalar_value("epoch_test_accuracy", metrics.test_accuracy)}));
  } else {
    validation_writer_->write(summary_event(metrics.epoch, {scalar_value("epoch_loss", metrics.test_loss, kLossNames),
                                                            scalar_value("epoch_accuracy", metrics.test_accuracy, kAccuracyNames)}));
  }
  if (metrics.epoch == epochs_) run_writer_->write(summary_event(0, {hparams_end_value(wall_time_now())}));
  for (EventFileWriter* writer : {run_writer_.get(), train_writer_.get(), validation_writer_.get()}) writer->flush();
}

void TensorBoardLog::write_weights(int64_t epoch, const ModelState& state) {
  if (state.parameters.size() != spec_.parameter_count) {
    throw Error("tensorboard: expected " + std::to_string(spec_.parameter_count) + " parameters, got " +
                std::to_string(state.parameters.size()));
  }
  std::vector<Summary::Value> values;
  for (const model::ArenaTensor& tensor : spec_.parameters) {
    values.push_back(histogram_value(std::string("weights/") + tensor.name, state.parameters.data() + tensor.offset, tensor.count));
  }
  train_writer_->write(summary_event(epoch, std::move(values)));
}

void TensorBoardLog::add_evaluation(int64_t epoch, const eval::EvaluationReport& report) {
  if (!validation_writer_) return;
  std::vector<Summary::Value> values{image_value("evaluation/confusion_matrix", eval::confusion_picture(report.confusion, eval::figure_caption(report.checkpoint)))};
  for (const fs::path& file : report.files) {
    if (file.extension() != ".png") continue;
    const std::string stem = file.stem().string();
    const char* tag = stem == "mistakes" ? "evaluation/mistakes" : stem.rfind("features-", 0) == 0 ? "evaluation/feature_maps" : nullptr;
    if (tag) values.push_back(image_value(tag, eval::read_png(file)));
  }
  validation_writer_->write(summary_event(epoch, std::move(values)));
  validation_writer_->flush();
}

}  // namespace train_gpu::tensorboard
