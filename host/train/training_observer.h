// What the trainer tells a watcher of the run as it goes (TensorBoard's event files, in
// host/tensorboard/, are the one today): where the run starts, the epoch's running totals every
// few steps, and each finished epoch with its metrics and weights. Calls come from the trainer's
// thread in training order; an Error thrown by an observer stops the run like any other.
#pragma once

#include <cstdint>

#include "host/model/backend.h"
#include "host/train/metrics_log.h"

namespace train_gpu {

struct RunStart {
  bool resumed = false;
  int64_t epochs_completed = 0;     // 0 for a new run
  int64_t batches_into_epoch = 0;   // batches of the next epoch already taken (a mid-epoch checkpoint)
  int64_t step = 0;                 // optimizer steps taken so far
  int64_t epochs = 0;               // the epoch the run ends after (1 for a --dry-run)
  const ModelState* state = nullptr;  // the weights training starts from
};

class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;

  virtual void on_run_start(const RunStart& start) = 0;

  // on_running_totals is called after every step that is a multiple of this; 0 never. Each call
  // costs the trainer a device synchronization (Backend::peek_totals).
  virtual int64_t running_totals_every() const = 0;
  // `epoch` is 1-based; `epoch_so_far` covers the epoch's batches up to and including `step`,
  // also those taken before a resume.
  virtual void on_running_totals(int64_t epoch, int64_t step, const PassTotals& epoch_so_far) = 0;

  // After the epoch's test pass and metrics.csv row, before its checkpoint is written.
  virtual void on_epoch_end(const EpochMetrics& metrics, int64_t step, const ModelState& state) = 0;
};

}  // namespace train_gpu
