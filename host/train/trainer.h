// The host orchestrator: epochs, batches, metrics, checkpoints, resume and graceful stop, written
// once against the Backend interface. Per epoch: a fresh permutation from (seed, epoch), one
// train_step per batch (the last partial batch kept, as tf.data does), a full test pass, one line
// on stdout, a metrics.csv row and a checkpoint; an optional TrainingObserver (TensorBoard) is told
// along the way. Nothing here synchronizes with a GPU inside an epoch except the progress bar's
// peek, a few times a second and only on a terminal, and the observer's running totals, every
// TrainingObserver::running_totals_every() steps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "host/data/dataset.h"
#include "host/distributed/collectives.h"
#include "host/model/backend.h"
#include "host/train/improvement_tracker.h"
#include "host/train/lr_plateau.h"
#include "host/train/metrics_log.h"
#include "host/train/training_observer.h"

namespace train_gpu {

struct TrainConfig {
  int64_t epochs = 10;
  int batch_size = 64;
  int test_batch_size = 100;
  uint64_t seed = 42;
  bool dry_run = false;          // one training batch and one test batch, like pytorch/examples
  int64_t save_every = 1;        // checkpoint every N epochs (the last epoch always)
  int64_t keep_last = 0;         // keep only the newest N epoch checkpoints; 0 keeps all
  std::filesystem::path run_dir;
  std::filesystem::path resume_from;  // a checkpoint file; empty starts from initial weights
  bool progress = false;         // live progress bar (a terminal)
  bool deterministic = false;    // no timings in metrics.csv, so reruns are byte-identical
  // The optimizer the backend runs (BackendOptions::optimizer): recorded in every checkpoint, and
  // a resume under another is refused.
  OptimizerConfig optimizer;
  LrSchedule schedule;           // steps_per_epoch is set by the trainer
  int64_t plateau_patience = 10; // --lr-schedule plateau: epochs without improvement before a cut
  int64_t plateau_cooldown = 0;  // epochs after a cut that neither count nor cut (Keras's cooldown)
  double plateau_min_delta = 1e-4;  // an improvement is a fall by more than this (Keras's min_delta)
  double validation_split = 0;   // fraction of the training set held out for val_loss/val_accuracy
  int64_t early_stopping = 0;    // patience in epochs of no val_loss improvement; 0: off
  double early_stopping_min_delta = 0;  // its improvement is a fall by more than this (Keras's min_delta)
  bool restore_best = true;      // with early stopping: end with the best epoch's weights
};

struct TrainResult {
  int64_t epochs_completed = 0;
  EpochMetrics last_epoch;                   // of the last completed epoch
  std::filesystem::path last_checkpoint;     // newest checkpoint written (or resumed from)
  int stop_signal = 0;                       // SIGINT/SIGTERM when stopped early, else 0
  bool stopped_early = false;                // early stopping ended the run before its last epoch
  std::filesystem::path best_checkpoint;     // checkpoints/best.safetensors when a validation split has one
  int64_t best_epoch = 0;                    // its epoch (1-based); 0: none
  bool restored_best = false;                // the backend holds the best epoch's weights at the end
};

class Trainer {
 public:
  // `observer` (may be null) must outlive the trainer. `collectives` (null for a single process)
  // makes this one rank of a data-parallel job: the backend was built with the same pointer
  // (BackendOptions::collectives); training totals are reduced over the ranks, a stop signal is
  // agreed at every step so all ranks stop after the same one, and only rank 0 writes files
  // (metrics.csv, checkpoints); what goes to `out` is the caller's to silence on other ranks.
  Trainer(Backend& backend, const Dataset& dataset, TrainConfig config, std::ostream& out,
          TrainingObserver* observer = nullptr, distributed::Collectives* collectives = nullptr);
  // Runs to the last epoch or a stop signal. Throws Error when training diverges (non-finite
  // loss or gradients), naming the epoch and step and the last good checkpoint.
  TrainResult run();

 private:
  struct Position {
    int64_t epoch = 0;              // epochs completed
    int64_t batches_into_epoch = 0;
    PassTotals partial;             // training totals of the batches already taken this epoch
  };
  // Sets the backend's state (initial weights or the checkpoint's) and returns it in `state`.
  Position start_position(ModelState& state);
  // Trains from batch `from.batches_into_epoch`; `from.partial` holds the totals of the batches
  // before it (for running totals). Returns the totals of the batches it took.
  PassTotals train_epoch(int64_t epoch, const Position& from, Position& stop_at);
  PassTotals test_pass();
  PassTotals validation_pass();
  void save(const std::filesystem::path& file, const Position& position, const ModelState& state);
  void prune_old_checkpoints(int64_t newest_epoch);
  // The stop signal received, or with several ranks the one any rank received. Collective then:
  // every rank calls it at the same points.
  int agreed_stop_signal();
  // Training totals taken from the backend, summed over the ranks.
  PassTotals take_training_totals();

  Backend& backend_;
  const Dataset& dataset_;
  TrainConfig config_;
  std::ostream& out_;
  TrainingObserver* observer_;
  distributed::Collectives* collectives_;
  bool writes_files_;  // a single process, or rank 0
  std::vector<int32_t> train_indices_;       // the training samples (all but the validation split's)
  std::vector<int32_t> validation_indices_;  // the held-out samples; empty without --validation-split
  ImprovementTracker early_stopping_;        // val_loss for --early-stopping
  LrPlateau plateau_;                        // val_loss for --lr-schedule plateau
  float lr_scale_ = 1.0f;                    // ReduceLROnPlateau's cuts so far
  int64_t train_count_;
  int64_t test_count_;
  int64_t batches_per_epoch_;
  std::string kernels_;  // the backend's kernels, named at the end of every epoch line
};

// The training and validation samples of a training set of `count` when `fraction` is held out:
// the first round(fraction * count) of a permutation fixed by the seed (not reshuffled per
// epoch), each list in ascending order. An Error when either would be empty.
void split_for_validation(uint64_t seed, int32_t count, double fraction, std::vector<int32_t>& train,
                          std::vector<int32_t>& validation);

// Batches of `batch` covering `count` samples, the last one partial: ceil(count / batch).
int64_t batch_count(int64_t count, int batch);

}  // namespace train_gpu
