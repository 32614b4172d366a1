// metrics.csv: one row per epoch, readable by pandas.read_csv. Accuracies are fractions (0..1),
// as Keras's metrics report them; losses are means (train: of batch losses, test: of samples).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace train_gpu {

struct EpochMetrics {
  int64_t epoch = 0;                 // 1-based
  double train_loss = 0;
  double train_accuracy = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double epoch_seconds = 0;          // training pass + test pass, as far as this process ran them
  double samples_per_second = 0;     // samples trained by this process / its training-pass seconds
  // 0 for an epoch trained in one go. N when this process resumed the epoch after N batches: the
  // two timings then cover only the batches after N (and the test pass), which a rate of the whole
  // epoch's samples over that time would overstate several times.
  int64_t resumed_at_batch = 0;
  double learning_rate = 0;          // the rate of the epoch's first step (after the schedule)
  bool has_validation = false;       // --validation-split: val_loss and val_accuracy are set
  double val_loss = 0;               // mean over the held-out samples
  double val_accuracy = 0;
};

// New columns go at the end, so readers that count columns from the left keep working.
inline constexpr const char* kMetricsHeader =
    "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch,"
    "learning_rate,val_loss,val_accuracy";

// With `timings` false the timing fields and resumed_at_batch, which only says what the timings
// cover, are left empty (pandas reads NaN), so that runs with --deterministic produce byte-identical
// files, through a resume too; the times still appear on stdout. Without a validation split
// val_loss and val_accuracy are empty. learning_rate is the shortest text that reads back as the
// float it was computed as.
std::string metrics_csv_row(const EpochMetrics& metrics, bool timings = true);

// Creates the file with its header when absent; when resuming, drops rows for epochs >= first_epoch
// (they belong to the abandoned tail of the interrupted run) so the file ends as an uninterrupted
// run's would. That rewrite is atomic, so a kill during it keeps the old rows. Then appends rows,
// flushing each.
class MetricsLog {
 public:
  MetricsLog(std::filesystem::path file, int64_t first_epoch, bool timings = true);
  void append(const EpochMetrics& metrics);

 private:
  std::filesystem::path file_;
  bool timings_;
};

}  // namespace train_gpu
