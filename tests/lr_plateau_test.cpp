// --lr-schedule plateau's rule (host/train/lr_plateau.h: patience, --lr-plateau-cooldown,
// --lr-plateau-min-delta) and early stopping's (host/train/improvement_tracker.h with
// --early-stopping-min-delta) on crafted val_loss sequences: against the rates and stops worked
// out by hand from Keras's rule (written in lr_plateau.h), and against Keras's own
// ReduceLROnPlateau and EarlyStopping callbacks fed the same sequences
// (tests/support/keras_plateau_callbacks.py; skipped without TRAIN_GPU_KERAS_PYTHON).
//
// The sequences keep every comparison away from a tie within float32 rounding: Keras compares
// the logged losses with ops.less, which converts Python floats to float32, while we compare in
// double, so only values that float32 cannot tell apart could be decided differently.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/math/lr_schedule_math.h"
#include "host/train/improvement_tracker.h"
#include "host/train/lr_plateau.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

struct PlateauCase {
  PlateauRule rule;
  float factor, min_lr, learning_rate;
  std::vector<double> losses;
  std::vector<float> rates;  // after each epoch, by hand from Keras's rule
};

struct EarlyCase {
  int64_t patience;
  double min_delta;
  std::vector<double> losses;
  int64_t stopped_after;  // 1-based epoch; 0: runs to the end
  int64_t best_epoch;
};

// The trainer's arithmetic (trainer.cpp): the rate is the schedule's closed form of the scale,
// which a cut multiplies by the factor down to min_lr's scale; a cut only while above it.
std::vector<float> our_rates(const PlateauCase& c) {
  math::LrSchedule schedule;
  schedule.kind = math::LrScheduleKind::kPlateau;
  schedule.gamma = c.factor;
  schedule.min_lr = c.min_lr;
  const float floor_scale = c.min_lr / c.learning_rate;
  float scale = 1.0f;
  LrPlateau plateau;
  std::vector<float> rates;
  for (std::size_t i = 0; i < c.losses.size(); ++i) {
    if (plateau.record(c.losses[i], int64_t(i) + 1, c.rule, scale > floor_scale)) {
      scale = std::max(scale * c.factor, floor_scale);
    }
    rates.push_back(math::scheduled_learning_rate(schedule, c.learning_rate, scale, 1));
  }
  return rates;
}

// The trainer's rule: stop once `wait` reaches the patience.
std::pair<int64_t, int64_t> our_stop(const EarlyCase& c) {
  ImprovementTracker tracker;
  for (std::size_t i = 0; i < c.losses.size(); ++i) {
    tracker.record(c.losses[i], int64_t(i) + 1, c.min_delta);
    if (tracker.wait >= c.patience) return {int64_t(i) + 1, tracker.best_epoch};
  }
  return {0, tracker.best_epoch};
}

std::vector<PlateauCase> plateau_cases() {
  std::vector<PlateauCase> cases;
  // min_delta 0.01, patience 2, no cooldown: epochs 3 and 4 fall by less than 0.01 (no
  // improvement: wait 1, 2 -> cut at 4); 5 improves; 6, 7 do not (cut at 7); 8 falls by 0.015.
  cases.push_back({PlateauRule{2, 0, 0.01}, 0.5f, 0.0f, 0.1f,
                   {1.0, 0.9, 0.895, 0.892, 0.7, 0.705, 0.71, 0.685, 0.695},
                   {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f, 0.025f}});
  // Patience 1, cooldown 2, min_lr 0.02: a cut at 2 starts a cooldown; epoch 3 is in it (counter
  // 2 -> 1, nothing counted), epoch 4 leaves it (1 -> 0) and counts: cut at 4. Epoch 5 improves
  // inside the next cooldown (the best still moves); 6 leaves it and cuts to the floor 0.02; from
  // there on nothing cuts (Keras: old_lr > min_lr fails).
  cases.push_back({PlateauRule{1, 2, 0.0}, 0.5f, 0.02f, 0.1f,
                   {1.0, 1.1, 1.2, 1.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1},
                   {0.1f, 0.05f, 0.05f, 0.025f, 0.025f, 0.02f, 0.02f, 0.02f, 0.02f, 0.02f, 0.02f}});
  // min_delta 1e-4 (Keras's default), patience 3, cooldown 1: rises of 1e-4 or less above the
  // best count; cut at 4. Cooldown 1 only clears `wait`, which the cut cleared already: Keras
  // decrements the counter before testing it, so epoch 5 counts again and 7 cuts.
  cases.push_back({PlateauRule{3, 1, 1e-4}, 0.1f, 0.0f, 0.001f,
                   {0.5, 0.49995, 0.49996, 0.49997, 0.49998, 0.49999, 0.49996, 0.49997, 0.3},
                   {0.001f, 0.001f, 0.001f, 0.0001f, 0.0001f, 0.0001f, 0.00001f, 0.00001f, 0.00001f}});
  return cases;
}

std::vector<EarlyCase> early_cases() {
  return {
      // min_delta 0.05: epoch 2 falls by 0.1 (best), 3 and 4 by less than 0.05 from it: stop after 4.
      {2, 0.05, {1.0, 0.9, 0.87, 0.86, 0.84, 0.7}, 4, 2},
      // min_delta 0 (Keras's default): every fall is an improvement; no stop.
      {2, 0.0, {1.0, 0.9, 0.87, 0.86, 0.84, 0.7}, 0, 6},
      // A rise and a fall back that does not beat the best by 0.01: patience 3 runs out after 5.
      {3, 0.01, {0.5, 0.4, 0.45, 0.395, 0.41, 0.3}, 5, 2},
  };
}

TEST(LrPlateau, CutsWhereKerassRuleSays) {
  for (const PlateauCase& c : plateau_cases()) {
    const std::vector<float> ours = our_rates(c);
    ASSERT_EQ(ours.size(), c.rates.size());
    // The rates are lr * scale in float; Keras's are float32 products too, rounded in another
    // order: within a few ulps, 1e-6 relative.
    for (std::size_t i = 0; i < ours.size(); ++i) {
      EXPECT_NEAR(ours[i], c.rates[i], 1e-6 * c.rates[i]) << "epoch " << i + 1 << ", cooldown " << c.rule.cooldown;
    }
  }
}

TEST(LrPlateau, ACooldownEpochNeitherCountsNorCuts) {
  LrPlateau plateau;
  const PlateauRule rule{1, 3, 0.0};
  EXPECT_FALSE(plateau.record(1.0, 1, rule, true));
  EXPECT_TRUE(plateau.record(2.0, 2, rule, true));  // patience 1: the first non-improvement cuts
  EXPECT_EQ(plateau.cooldown_counter, 3);
  EXPECT_FALSE(plateau.record(2.0, 3, rule, true));
  EXPECT_FALSE(plateau.record(2.0, 4, rule, true));
  EXPECT_EQ(plateau.tracker.wait, 0);
  EXPECT_FALSE(plateau.record(0.5, 5, rule, true));  // the cooldown's last epoch; still a new best
  EXPECT_EQ(plateau.tracker.best_epoch, 5);
  EXPECT_EQ(plateau.cooldown_counter, 0);
  EXPECT_TRUE(plateau.record(0.6, 6, rule, true));
  // At the floor nothing is cut, and nothing restarts: the count goes on.
  LrPlateau at_floor;
  const PlateauRule no_cooldown{1, 0, 0.0};
  EXPECT_FALSE(at_floor.record(1.0, 1, no_cooldown, false));
  EXPECT_FALSE(at_floor.record(2.0, 2, no_cooldown, false));
  EXPECT_FALSE(at_floor.record(2.0, 3, no_cooldown, false));
  EXPECT_EQ(at_floor.tracker.wait, 2);
}

TEST(EarlyStoppingRule, StopsWhereKerassRuleSays) {
  for (const EarlyCase& c : early_cases()) {
    const auto [stopped, best] = our_stop(c);
    EXPECT_EQ(stopped, c.stopped_after) << "min_delta " << c.min_delta;
    EXPECT_EQ(best, c.best_epoch) << "min_delta " << c.min_delta;
  }
}

TEST(LrPlateau, OurRatesAndStopsAreKerassCallbacks) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, keras",
                                                "configure with -DTRAIN_GPU_KERAS_PYTHON=<a python with keras>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  std::string input;
  for (const PlateauCase& c : plateau_cases()) {
    std::ostringstream line;
    line.precision(17);
    line << "plateau " << c.rule.patience << " " << c.rule.cooldown << " " << c.rule.min_delta << " " << c.factor << " "
         << c.min_lr << " " << c.learning_rate;
    for (const double loss : c.losses) line << " " << loss;
    input += t::shell_quote(line.str()) + " ";
  }
  for (const EarlyCase& c : early_cases()) {
    std::ostringstream line;
    line.precision(17);
    line << "early " << c.patience << " " << c.min_delta;
    for (const double loss : c.losses) line << " " << loss;
    input += t::shell_quote(line.str()) + " ";
  }
  const t::MergedCommandResult result = t::run_command_merged(
      "printf '%s\\n' " + input + "| " + t::shell_quote(TRAIN_GPU_KERAS_PYTHON) + " " +
      t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/keras_plateau_callbacks.py"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // TensorFlow's log lines come through too (stderr is merged): the script's lines are numbers.
  std::vector<std::string> lines;
  for (const std::string& line : t::lines_of(result.output)) {
    if (!line.empty() && line.find_first_not_of("0123456789.e- ") == std::string::npos) lines.push_back(line);
  }
  const std::vector<PlateauCase> plateaus = plateau_cases();
  const std::vector<EarlyCase> earlies = early_cases();
  ASSERT_EQ(lines.size(), plateaus.size() + earlies.size()) << result.output;
  for (std::size_t i = 0; i < plateaus.size(); ++i) {
    std::istringstream fields(lines[i]);
    const std::vector<float> ours = our_rates(plateaus[i]);
    for (std::size_t epoch = 0; epoch < ours.size(); ++epoch) {
      double keras = 0;
      ASSERT_TRUE(fields >> keras) << lines[i];
      // As above: float32 products in another order, 1e-6 relative.
      EXPECT_NEAR(ours[epoch], keras, 1e-6 * keras) << "plateau case " << i << ", epoch " << epoch + 1;
    }
  }
  for (std::size_t i = 0; i < earlies.size(); ++i) {
    std::istringstream fields(lines[plateaus.size() + i]);
    int64_t stopped = -1, best = -1;
    ASSERT_TRUE(fields >> stopped >> best) << lines[plateaus.size() + i];
    const auto [our_stopped, our_best] = our_stop(earlies[i]);
    EXPECT_EQ(our_stopped, stopped) << "early case " << i;
    EXPECT_EQ(our_best, best) << "early case " << i;
  }
}

}  // namespace
}  // namespace train_gpu
