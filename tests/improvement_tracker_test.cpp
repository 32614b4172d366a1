// Early stopping's and ReduceLROnPlateau's count of epochs without improvement
// (host/train/improvement_tracker.h) on a crafted val_loss sequence, checked against Keras's rule:
// an epoch improves when loss < best - min_delta; EarlyStopping(patience=p) stops after the epoch
// where wait reaches p.
#include <gtest/gtest.h>

#include <vector>

#include "host/train/improvement_tracker.h"

namespace train_gpu {
namespace {

TEST(ImprovementTracker, EarlyStoppingOnACraftedLossSequence) {
  // Improves at epochs 1, 2, 4; epoch 3 ties nothing; 5, 6 and 7 are worse or equal: with
  // patience 3 Keras stops after epoch 7, best epoch 4.
  const std::vector<double> losses = {1.0, 0.8, 0.85, 0.5, 0.5, 0.7, 0.6, 0.1};
  ImprovementTracker tracker;
  const int64_t patience = 3;
  int64_t stopped_after = 0;
  std::vector<bool> improved;
  for (std::size_t i = 0; i < losses.size() && stopped_after == 0; ++i) {
    improved.push_back(tracker.record(losses[i], int64_t(i) + 1, 0.0));
    if (tracker.wait >= patience) stopped_after = int64_t(i) + 1;
  }
  EXPECT_EQ(improved, (std::vector<bool>{true, true, false, true, false, false, false}));
  EXPECT_EQ(stopped_after, 7);
  EXPECT_EQ(tracker.best_epoch, 4);
  EXPECT_EQ(tracker.best, 0.5);
}

TEST(ImprovementTracker, MinDeltaIgnoresImprovementsTooSmall) {
  ImprovementTracker tracker;
  EXPECT_TRUE(tracker.record(1.0, 1, 1e-4));
  EXPECT_FALSE(tracker.record(1.0 - 5e-5, 2, 1e-4)) << "less than min_delta below the best";
  EXPECT_EQ(tracker.wait, 1);
  EXPECT_TRUE(tracker.record(1.0 - 2e-4, 3, 1e-4));
  EXPECT_EQ(tracker.wait, 0);
  EXPECT_EQ(tracker.best_epoch, 3);
}

}  // namespace
}  // namespace train_gpu
