// The run as TensorBoard shows it, written while it trains, in the layout of Keras's TensorBoard
// callback (keras.callbacks.TensorBoard with log_dir = the run directory): RUN/train/ and
// RUN/validation/ hold one event file each, so `tensorboard --logdir runs` lists the runs
// "<run>/train" and "<run>/validation", and train and test values of one tag overlay on one chart.
//
// Tags, the TensorBoard run (directory) each goes to, and the step it is written at:
//   train/      epoch_loss epoch_accuracy           metrics.csv's train_loss train_accuracy, step = epoch
//   validation/ epoch_loss epoch_accuracy           metrics.csv's test_loss test_accuracy, step = epoch
//   train/      epoch_seconds                       metrics.csv's timing columns, step = epoch; named
//               epoch_samples_per_second            so they sort after epoch_accuracy and epoch_loss
//                                                   (the page opens on the first tag in name order)
//   train/      batch_loss batch_accuracy           the epoch's running means so far (what Keras
//                                                   writes under these names with update_freq=N), every
//                                                   `running_every` optimizer steps, step = that step
//   train/      weights/<tensor>                    histograms of each parameter tensor of the model,
//                                                   under its name (the tutorial's conv.weight ...
//                                                   fc2.bias; another spec's 0.weight, 0.bias, ...),
//                                                   step = epoch (0: the initial weights)
//   validation/ evaluation/confusion_matrix         images of the final evaluation (on the test set),
//               evaluation/feature_maps             step = the last epoch
//               evaluation/mistakes
//   RUN/        config                              config.json as text, step 0
//   RUN/        _hparams_/session_start_info        the HParams dashboard's session: learning rate,
//               _hparams_/session_end_info          batch size, ... (hparams) when the run starts, and
//                                                   its end when the last epoch is done; step 0. Its
//                                                   metrics are the runs' last epoch_* values
// epoch_loss and epoch_accuracy carry the tutorial's names in their description (the chart's
// tooltip) rather than as tags of their own, which would repeat each chart. Accuracies are
// fractions 0..1, as Keras's are. Each epoch's events are flushed before its
// checkpoint is written, so a live TensorBoard follows.
//
// Resume: each start writes a new event file in each of the three directories. A resumed run
// first rewrites the earlier files without the events written after the checkpoint it resumes
// from (those epochs and steps are trained again), so no (tag, step) appears twice and the files
// read like an uninterrupted run's, as metrics.csv does; the HParams session is written anew. A
// new run in a directory that has event files removes them. Either way, only files train_gpu
// wrote are changed, and a damaged one is moved aside, not deleted (resume_trim.h); each file
// touched or left alone gets a line in the log. RUN/tensorboard/, where runs before 2026-12 wrote
// one event file, is treated the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "host/eval/report_files.h"
#include "host/model/network_spec.h"
#include "host/tensorboard/event_file.h"
#include "host/tensorboard/resume_trim.h"
#include "host/tensorboard/summaries.h"
#include "host/train/training_observer.h"

namespace train_gpu::tensorboard {

inline constexpr const char* kTrainRun = "train";
inline constexpr const char* kValidationRun = "validation";

class TensorBoardLog : public TrainingObserver {
 public:
  // `run_directory` is RUN; nothing is written until on_run_start. `config_json` becomes the
  // config text of a new run (empty: none); `hparams` the HParams session's, and the session ends
  // after the run's last epoch (RunStart::epochs). Notices (where the files go, what a resume
  // dropped) go to `log`. `spec` is the model trained, whose parameter tensors get histograms (no
  // default: a tutorial default let `train --model` build a log that refused its first histogram).
  TensorBoardLog(std::filesystem::path run_directory, int64_t running_every, std::string config_json,
                 std::vector<HParam> hparams, std::ostream& log, model::NetworkSpec spec);

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
  int64_t epochs_ = 0;  // from on_run_start: the trainer's count, which a --dry-run makes 1
  std::string config_json_;
  std::vector<HParam> hparams_;
  std::ostream& log_;
  model::NetworkSpec spec_;
  std::unique_ptr<EventFileWriter> run_writer_;  // RUN/: config and the HParams session
  std::unique_ptr<EventFileWriter> train_writer_;
  std::unique_ptr<EventFileWriter> validation_writer_;
};

}  // namespace train_gpu::tensorboard
