// The trainer under the training controls (issue "Training controls"): a stop mid-epoch and a
// resume equal an uninterrupted run bit for bit with every optimizer under a schedule; the
// validation split is fixed by the seed and disjoint from training; early stopping stops where
// Keras's rule says and keeps the best epoch as checkpoints/best.safetensors, whatever
// --keep-last prunes; a resume under another optimizer is refused, naming both.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/model/cpu_backend.h"
#include "host/model/initializer.h"
#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "host/train/run_directory.h"
#include "host/train/stop_signal.h"
#include "host/train/trainer.h"
#include "support/metrics_columns.h"
#include "support/mnist_subset.h"
#include "support/trainer_fixture.h"
#include "support/stopping_backend.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;

class TrainingControlsTest : public testing::TrainerFixture {
 protected:
  TrainConfig config(const std::string& name, int64_t epochs, const OptimizerConfig& optimizer) {
    TrainConfig config;
    config.epochs = epochs;
    config.run_dir = root_ / name;
    config.optimizer = optimizer;
    prepare_run_directory(config.run_dir);
    return config;
  }

  std::unique_ptr<Backend> backend(const OptimizerConfig& optimizer) {
    BackendOptions options;
    options.max_batch = 100;
    options.optimizer = optimizer;
    auto backend = make_cpu_backend(options);
    backend->attach_data(dataset_.train, dataset_.test);
    return backend;
  }

};

struct Case {
  OptimizerConfig optimizer;
  LrSchedule schedule;
  double validation_split;
};

TEST_F(TrainingControlsTest, StopAndResumeEqualsAnUninterruptedRunForEveryOptimizerAndSchedule) {
  std::vector<Case> cases;
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  sgd.learning_rate = 0.05f;
  sgd.momentum = 0.9f;
  sgd.nesterov = true;
  LrSchedule step;
  step.kind = LrScheduleKind::kStep;
  step.step_epochs = 1;
  step.gamma = 0.5f;
  cases.push_back({sgd, step, 0.0});
  OptimizerConfig rmsprop;
  rmsprop.kind = OptimizerKind::kRmsprop;
  rmsprop.momentum = 0.5f;
  LrSchedule exponential;
  exponential.kind = LrScheduleKind::kExponential;
  exponential.gamma = 0.7f;
  cases.push_back({rmsprop, exponential, 0.2});
  OptimizerConfig adamw;
  adamw.kind = OptimizerKind::kAdamW;
  LrSchedule cosine;
  cosine.kind = LrScheduleKind::kCosine;
  cosine.warmup_epochs = 1;
  cosine.decay_epochs = 3;
  cosine.min_lr = 1e-5f;
  cases.push_back({adamw, cosine, 0.0});
  LrSchedule plateau;
  plateau.kind = LrScheduleKind::kPlateau;
  cases.push_back({OptimizerConfig{}, plateau, 0.25});

  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string name = "case" + std::to_string(i);
    auto prepared = [&](const std::string& run) {
      TrainConfig config = this->config(name + run, 3, c.optimizer);
      config.schedule = c.schedule;
      config.validation_split = c.validation_split;
      config.plateau_patience = 1;
      config.plateau_cooldown = 2;  // its counter is checkpointed too
      return config;
    };
    auto uninterrupted = backend(c.optimizer);
    Trainer(*uninterrupted, dataset_, prepared("whole"), log_).run();
    const ModelState expected = uninterrupted->state();

    auto first = backend(c.optimizer);
    StoppingBackend stopping(*first, 14);  // inside epoch 2 (or 3 with a validation split's fewer batches)
    TrainConfig part = prepared("split");
    const TrainResult stopped = Trainer(stopping, dataset_, part, log_).run();
    ASSERT_EQ(stopped.stop_signal, SIGTERM) << name;
    StopSignal::reset();
    auto second = backend(c.optimizer);
    part.resume_from = resolve_resume_source(part.run_dir);
    Trainer(*second, dataset_, part, log_).run();
    const ModelState actual = second->state();
    EXPECT_EQ(actual.step, expected.step) << name;
    EXPECT_TRUE(actual.parameters == expected.parameters) << name;
    EXPECT_TRUE(actual.adam_m == expected.adam_m) << name;
    EXPECT_TRUE(actual.adam_v == expected.adam_v) << name;
    EXPECT_EQ(testing::metrics_without_timing(part.run_dir), testing::metrics_without_timing(root_ / (name + "whole"))) << name;
  }
}

// The learning_rate column is the schedule's closed form at each epoch's first step.
TEST_F(TrainingControlsTest, TheLearningRateColumnFollowsTheSchedule) {
  TrainConfig config = this->config("step", 3, OptimizerConfig{});
  config.schedule.kind = LrScheduleKind::kStep;
  config.schedule.step_epochs = 1;
  config.schedule.gamma = 0.5f;
  auto cpu = backend(config.optimizer);
  Trainer(*cpu, dataset_, config, log_).run();
  const std::vector<std::string> expected = {"0.001", "0.0005", "0.00025"};
  std::ifstream again(config.run_dir / "metrics.csv");
  std::string line;
  std::getline(again, line);
  for (const std::string& rate : expected) {
    ASSERT_TRUE(std::getline(again, line));
    std::stringstream fields(line);
    std::string field;
    for (int column = 0; column <= 8; ++column) std::getline(fields, field, ',');
    EXPECT_EQ(field, rate) << line;
  }
}

// The held-out samples: fixed by the seed, disjoint from the training samples, together all of them.
TEST(ValidationSplit, IsFixedBySeedAndDisjoint) {
  std::vector<int32_t> train, validation, train2, validation2, train3, validation3;
  split_for_validation(42, 1000, 0.1, train, validation);
  split_for_validation(42, 1000, 0.1, train2, validation2);
  split_for_validation(43, 1000, 0.1, train3, validation3);
  EXPECT_EQ(validation.size(), 100u);
  EXPECT_EQ(train.size(), 900u);
  EXPECT_EQ(validation, validation2);
  EXPECT_NE(validation, validation3);
  std::vector<int32_t> all = train;
  all.insert(all.end(), validation.begin(), validation.end());
  std::sort(all.begin(), all.end());
  for (int32_t i = 0; i < 1000; ++i) ASSERT_EQ(all[std::size_t(i)], i);
  EXPECT_THROW(split_for_validation(42, 10, 0.01, train, validation), Error) << "nothing left to validate on";
}

// On 160 training images (120 after the split) Adam at lr 0.01 overfits within a few epochs: the
// validation loss turns up, and with patience 2 the run stops 2 epochs after its best, keeps that
// epoch as best.safetensors although --keep-last 1 prunes the epoch checkpoints, and ends with
// its weights.
TEST_F(TrainingControlsTest, EarlyStoppingStopsAfterPatienceAndKeepsTheBestCheckpoint) {
  dataset_ = testing::mnist_subset(160, 100);
  OptimizerConfig fast;
  fast.learning_rate = 0.01f;
  TrainConfig config = this->config("early", 30, fast);
  config.validation_split = 0.25;
  config.early_stopping = 2;
  config.keep_last = 1;
  auto cpu = backend(fast);
  const TrainResult result = Trainer(*cpu, dataset_, config, log_).run();
  ASSERT_TRUE(result.stopped_early) << log_.str();
  EXPECT_NE(log_.str().find("%  val loss "), std::string::npos) << "the epoch line reports the split:\n" << log_.str();
  EXPECT_LT(result.epochs_completed, 30);
  EXPECT_EQ(result.epochs_completed, result.best_epoch + 2);

  // The best epoch is metrics.csv's smallest val_loss.
  std::ifstream in(config.run_dir / "metrics.csv");
  std::string line;
  std::getline(in, line);
  double best = 1e30;
  int64_t best_epoch = 0;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::vector<std::string> values;
    for (std::string field; std::getline(fields, field, ',');) values.push_back(field);
    ASSERT_EQ(values.size(), 11u) << line;
    const double val_loss = std::stod(values[9]);
    if (val_loss < best) {
      best = val_loss;
      best_epoch = std::stoll(values[0]);
    }
  }
  EXPECT_EQ(result.best_epoch, best_epoch);
  const fs::path best_file = config.run_dir / "checkpoints" / "best.safetensors";
  ASSERT_TRUE(fs::exists(best_file));
  const Checkpoint kept = load_checkpoint(best_file);
  EXPECT_EQ(kept.metadata.epoch, best_epoch);
  EXPECT_FALSE(fs::exists(checkpoint_path(config.run_dir, best_epoch))) << "--keep-last 1 pruned the epoch's own file";
  EXPECT_TRUE(result.restored_best);
  EXPECT_TRUE(cpu->state().parameters == kept.state.parameters) << "the run ends with the best weights";
}

TEST_F(TrainingControlsTest, EarlyStoppingWithoutAValidationSplitIsRefused) {
  TrainConfig config = this->config("refused", 3, OptimizerConfig{});
  config.early_stopping = 2;
  auto cpu = backend(config.optimizer);
  try {
    Trainer(*cpu, dataset_, config, log_);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("--validation-split"), std::string::npos) << error.what();
  }
}

TEST_F(TrainingControlsTest, AResumeWithAnotherOptimizerIsRefusedNamingBoth) {
  TrainConfig config = this->config("adam", 1, OptimizerConfig{});
  auto cpu = backend(config.optimizer);
  Trainer(*cpu, dataset_, config, log_).run();
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  TrainConfig other = config;
  other.optimizer = sgd;
  other.epochs = 2;
  other.resume_from = resolve_resume_source(config.run_dir);
  auto second = backend(sgd);
  try {
    Trainer(*second, dataset_, other, log_).run();
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("--optimizer adam"), std::string::npos) << message;
    EXPECT_NE(message.find("--optimizer sgd"), std::string::npos) << message;
  }
}

// SGD's checkpoint holds its one slot as optim.momentum.<tensor> and loads back to the bit.
TEST_F(TrainingControlsTest, SgdCheckpointsNameTheirSlotAndLoadBack) {
  OptimizerConfig sgd;
  sgd.kind = OptimizerKind::kSgd;
  sgd.momentum = 0.9f;
  TrainConfig config = this->config("sgd", 1, sgd);
  auto cpu = backend(sgd);
  Trainer(*cpu, dataset_, config, log_).run();
  const ModelState state = cpu->state();
  const Checkpoint loaded = load_checkpoint(checkpoint_path(config.run_dir, 1));
  EXPECT_EQ(loaded.metadata.extra.at("optimizer"), "sgd");
  EXPECT_EQ(loaded.metadata.extra.at("optimizer.momentum"), "0.9");
  EXPECT_TRUE(loaded.state.adam_m == state.adam_m);
  EXPECT_TRUE(loaded.state.parameters == state.parameters);
  // The safetensors header: its length (8 bytes, little-endian), then the JSON naming every tensor.
  std::ifstream file(checkpoint_path(config.run_dir, 1), std::ios::binary);
  unsigned char length_bytes[8] = {};
  file.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length * 256 + length_bytes[i];
  ASSERT_LT(length, 1u << 20);
  std::string header(length, '\0');
  file.read(header.data(), std::streamsize(header.size()));
  for (const model::TensorSpec& tensor : model::kParameterTensors) {
    EXPECT_NE(header.find(std::string("optim.momentum.") + tensor.name), std::string::npos) << tensor.name;
  }
  EXPECT_EQ(header.find("optim.m."), std::string::npos);
}

// --clip-norm on the CPU backend: plain SGD moves the weights by lr * (clipped gradient), so
// after one step the weights moved by exactly lr * clip_norm in norm when the gradient's norm is
// above the bound, and bit for bit as without clipping when the bound is above it. Tolerance:
// the 694k float differences of numbers near 0.05 carry ~1e-8 absolute rounding each, far below
// 1e-3 relative of the 1e-3 distance.
TEST_F(TrainingControlsTest, ClippingBoundsTheStepOnTheCpu) {
  const std::vector<int32_t> order = {0, 1, 2, 3, 4, 5, 6, 7};
  auto one_step = [&](float clip_norm) {
    BackendOptions options;
    options.max_batch = 100;
    options.optimizer.kind = OptimizerKind::kSgd;
    options.optimizer.learning_rate = 0.1f;
    options.clip_norm = clip_norm;
    auto cpu = make_cpu_backend(options);
    cpu->attach_data(dataset_.train, dataset_.test);
    cpu->set_state(initial_model_state(42));
    cpu->set_order(Split::kTrain, order);
    cpu->train_step(0, 8);
    return cpu->state().parameters;
  };
  const std::vector<float> start = initial_model_state(42).parameters;
  const std::vector<float> free = one_step(0.0f);
  EXPECT_TRUE(one_step(1e6f) == free) << "a bound above the norm changes nothing";
  const std::vector<float> clipped = one_step(0.01f);
  double moved = 0.0, free_moved = 0.0;
  for (std::size_t i = 0; i < start.size(); ++i) {
    moved += std::pow(double(clipped[i]) - double(start[i]), 2);
    free_moved += std::pow(double(free[i]) - double(start[i]), 2);
  }
  ASSERT_GT(std::sqrt(free_moved), 0.1 * 0.01 * 10) << "the unclipped step must be well above the bound to test it";
  EXPECT_NEAR(std::sqrt(moved), 0.1 * 0.01, 1e-6);
}

// --label-smoothing e: the training loss of a batch is the mean of
// -(1 - e) log p_label - (e / 10) sum_j log p_j over its rows, p from the same weights.
// Tolerance: float softmax terms (a few ulps of values near 2.3) averaged: 1e-5 relative.
TEST_F(TrainingControlsTest, LabelSmoothingTrainsAgainstTheSmoothedTargetsOnTheCpu) {
  constexpr float kSmoothing = 0.1f;
  const std::vector<int32_t> order = {0, 1, 2, 3, 4, 5, 6, 7};
  BackendOptions options;
  options.max_batch = 100;
  options.label_smoothing = kSmoothing;
  auto cpu = make_cpu_backend(options);
  cpu->attach_data(dataset_.train, dataset_.test);
  cpu->set_state(initial_model_state(42));
  cpu->set_order(Split::kTrain, order);
  std::vector<float> probabilities(8 * 10, std::nanf(""));
  cpu->evaluate_batch(Split::kTrain, 0, 8, probabilities.data());
  const PassTotals plain = cpu->take_totals(PassKind::kEvaluation);
  double expected = 0.0;
  for (int n = 0; n < 8; ++n) {
    const int label = dataset_.train.labels[std::size_t(n)];
    double spread = 0.0;
    for (int j = 0; j < 10; ++j) spread -= std::log(double(probabilities[std::size_t(n * 10 + j)]));
    expected += -(1.0 - kSmoothing) * std::log(double(probabilities[std::size_t(n * 10 + label)])) + kSmoothing / 10 * spread;
  }
  expected /= 8;
  cpu->train_step(0, 8);
  const PassTotals smoothed = cpu->take_totals(PassKind::kTraining);
  EXPECT_NEAR(smoothed.batch_loss_sum, expected, 1e-5 * expected);
  // And the plain loss is far outside that tolerance, so the check could tell the two apart.
  EXPECT_GT(std::fabs(smoothed.batch_loss_sum - plain.batch_loss_sum), 10 * 1e-5 * expected);
}

}  // namespace
}  // namespace train_gpu
