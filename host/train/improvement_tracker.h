// Epochs without improvement of a monitored loss, counted as Keras's EarlyStopping and
// ReduceLROnPlateau count them (mode "min"): an epoch improves when its loss is below the best so
// far by more than min_delta (an absolute difference, as Keras's); otherwise `wait` grows by one.
// --lr-schedule plateau adds Keras's cooldown on top (lr_plateau.h). Kept in checkpoints, so a resumed run
// stops or cuts the rate where an uninterrupted one would.
#pragma once

#include <cstdint>
#include <limits>

namespace train_gpu {

struct ImprovementTracker {
  double best = std::numeric_limits<double>::infinity();
  int64_t best_epoch = 0;  // 1-based; 0 before the first record
  int64_t wait = 0;        // epochs since best_epoch

  // True when `loss` of `epoch` is the new best.
  bool record(double loss, int64_t epoch, double min_delta) {
    if (loss + min_delta < best) {  // Keras: monitor_op(current - min_delta, best), min_delta negated for "min"
      best = loss;
      best_epoch = epoch;
      wait = 0;
      return true;
    }
    ++wait;
    return false;
  }
};

}  // namespace train_gpu
