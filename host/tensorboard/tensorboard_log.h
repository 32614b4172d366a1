// RUN/tensorboard/: the run as `tensorboard --logdir RUN` shows it, written while it trains.
//
// Tags, and the step each is written at:
//   train_loss train_accuracy test_loss test_accuracy   every metrics.csv column under its own name
//   epoch_seconds samples_per_second                    (the tutorial's metric names), step = epoch
//   running/train_loss running/train_accuracy           the epoch's running means so far, every
//                                                       `running_every` optimizer steps, step = that step
//   weights/<tensor>                                    histograms of conv.weight ... fc2.bias, step =
//                                                       epoch (0: the initial weights)
//   evaluation/confusion_matrix evaluation/feature_maps images of the final evaluation, step = the
//   evaluation/mistakes                                 last epoch
//   config                                              config.json as text, step 0
// Each epoch's events are flushed before its checkpoint is written, so a live TensorBoard follows.
//
// Resume: each start writes a new event file. A resumed run first rewrites the earlier files
// without the events written after the checkpoint it resumes from (those epochs and steps are
// trained again), so no (tag, step) appears twice and the files read like an uninterrupted run's,
// as metrics.csv does. A new run in a directory that has event files removes them. Either way,
// only files train_gpu wrote are changed, and a damaged one is moved aside, not deleted
// (resume_trim.h); each file touched or left alone gets a line in the log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "host/eval/report_files.h"
#include "host/tensorboard/event_file.h"
#include "host/tensorboard/resume_trim.h"
#include "host/train/training_observer.h"

namespace train_gpu::tensorboard {

class TensorBoardLog : public TrainingObserver {
 public:
  // Nothing is written until on_run_start. `config_json` becomes the config text of a new run
  // (empty: none). Notices (where the files go, what a resume dropped) go to `log`.
  TensorBoardLog(std::filesystem::path directory, int64_t running_every, std::string config_json, std::ostream& log);

  void on_run_start(const RunStart& start) override;
  int64_t running_totals_every() const override { return running_every_; }
  void on_running_totals(int64_t epoch, int64_t step, const PassTotals& epoch_so_far) override;
  void on_epoch_end(const EpochMetrics& metrics, int64_t step, const ModelState& state) override;

  // The final evaluation's pictures at step `epoch`: the confusion matrix drawn from `report`, and
  // the feature maps and mistakes read back from the PNG files it wrote. Does nothing when the run
  // never started (a resume of a finished run).
  void add_evaluation(int64_t epoch, const eval::EvaluationReport& report);

  const std::filesystem::path& directory() const { return directory_; }

 private:
  void write_weights(int64_t epoch, const ModelState& state);

  std::filesystem::path directory_;
  int64_t running_every_;
  std::string config_json_;
  std::ostream& log_;
  std::unique_ptr<EventFileWriter> writer_;
};

}  // namespace train_gpu::tensorboard
