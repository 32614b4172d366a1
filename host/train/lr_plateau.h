// --lr-schedule plateau's epoch-end rule, Keras's ReduceLROnPlateau (mode "min") step for step
// (keras/src/callbacks/reduce_lr_on_plateau.py, on_epoch_end):
//
//   if cooldown_counter > 0: cooldown_counter -= 1; wait = 0
//   if current + min_delta < best: best = current; wait = 0          (an absolute delta)
//   elif cooldown_counter == 0:
//     wait += 1
//     if wait >= patience and lr > min_lr:
//       lr = max(lr * factor, min_lr); cooldown_counter = cooldown; wait = 0
//
// So the epochs of a cooldown neither count towards the patience nor cut, though an improvement
// during one still sets the best; and once the rate sits at min_lr nothing is reset. PyTorch's
// ReduceLROnPlateau(threshold_mode="abs", threshold=min_delta, cooldown=...) counts the same way.
// Kept in checkpoints (trainer.cpp), so a resumed run cuts where an uninterrupted one would.
#pragma once

#include <cstdint>

#include "host/train/improvement_tracker.h"

namespace train_gpu {

struct PlateauRule {
  int64_t patience = 10;    // Keras's patience (--lr-patience)
  int64_t cooldown = 0;     // Keras's cooldown (--lr-plateau-cooldown)
  double min_delta = 1e-4;  // Keras's min_delta (--lr-plateau-min-delta)
};

struct LrPlateau {
  ImprovementTracker tracker;    // best, best_epoch, wait
  int64_t cooldown_counter = 0;  // epochs of cooldown left

  // The epoch's `loss`; true when the rate is to be cut now. `above_floor`: the current rate is
  // above min_lr (Keras's `old_lr > min_lr`); a cut starts the cooldown and the count again.
  bool record(double loss, int64_t epoch, const PlateauRule& rule, bool above_floor) {
    if (cooldown_counter > 0) {
      --cooldown_counter;
      tracker.wait = 0;
    }
    if (loss + rule.min_delta < tracker.best) {
      tracker.best = loss;
      tracker.best_epoch = epoch;
      tracker.wait = 0;
      return false;
    }
    if (cooldown_counter > 0) return false;
    ++tracker.wait;
    if (tracker.wait < rule.patience || !above_floor) return false;
    cooldown_counter = rule.cooldown;
    tracker.wait = 0;
    return true;
  }
};

}  // namespace train_gpu
