// The orchestrator on the CPU backend and real MNIST subsets: exact resume after a stop,
// divergence detection, checkpoint pruning, metrics.csv.
#include "host/train/trainer.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include "host/common/error.h"
#include "host/model/cpu_backend.h"
#include "host/train/algorithm_record.h"
#include "host/train/checkpoint.h"
#include "host/train/run_directory.h"
#include "host/train/stop_signal.h"
#include "support/metrics_columns.h"
#include "support/mnist_subset.h"
#include "support/trainer_fixture.h"
#include "support/stopping_backend.h"
#include "support/overflowing_gradient.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;

// Records what the trainer reports to its observer.
class RecordingObserver : public TrainingObserver {
 public:
  explicit RecordingObserver(int64_t every) : every_(every) {}
  void on_run_start(const RunStart& start) override {
    starts.push_back(start);
    start_step_in_state = start.state ? start.state->step : -1;
  }
  int64_t running_totals_every() const override { return every_; }
  void on_running_totals(int64_t epoch, int64_t step, const PassTotals& so_far) override {
    running.push_back({epoch, step, so_far});
  }
  void on_epoch_end(const EpochMetrics& metrics, int64_t step, const ModelState& state) override {
    epochs.push_back({metrics, step, state.step, state.parameters});
  }

  struct Running {
    int64_t epoch, step;
    PassTotals so_far;
  };
  struct EpochEnd {
    EpochMetrics metrics;
    int64_t step, state_step;
    std::vector<float> parameters;
  };
  std::vector<RunStart> starts;
  int64_t start_step_in_state = -2;
  std::vector<Running> running;
  std::vector<EpochEnd> epochs;

 private:
  int64_t every_;
};

class TrainerTest : public testing::TrainerFixture {
 protected:
  TrainConfig config(const std::string& name, int64_t epochs) {
    TrainConfig config;
    config.epochs = epochs;
    config.run_dir = root_ / name;
    prepare_run_directory(config.run_dir);
    return config;
  }

  std::unique_ptr<Backend> backend(float learning_rate = OptimizerConfig{}.learning_rate) {
    BackendOptions options;
    options.max_batch = 100;
    options.optimizer.learning_rate = learning_rate;
    auto backend = make_cpu_backend(options);
    backend->attach_data(dataset_.train, dataset_.test);
    return backend;
  }

  // metrics.csv without the timing columns, which differ between any two runs, and
  // resumed_at_batch, which says what they cover (the last three).
  static std::string metrics_without_timing(const fs::path& run_dir) { return testing::metrics_without_timing(run_dir); }

};

TEST_F(TrainerTest, CheckpointsRecordTheBackendsCudnnAlgorithmsForAResume) {
  auto cpu = backend();
  StoppingBackend reporting(*cpu, -1);  // never stops
  ConvolutionAlgorithms ran;
  ran.forward = 1;
  ran.backward_filter = 5;
  ran.how = "heuristic (cudnnGet*_v7, untimed)";
  reporting.pretend_to_run(ran);
  Trainer(reporting, dataset_, config("gpu-like", 1), log_).run();
  const Checkpoint written = load_checkpoint(checkpoint_path(root_ / "gpu-like", 1));
  const ConvolutionAlgorithms recorded = recorded_conv_algorithms(written.metadata.extra);
  EXPECT_EQ(recorded.forward, 1);
  EXPECT_EQ(recorded.backward_filter, 5);
  EXPECT_EQ(written.metadata.extra.at("cudnn.algorithms_how"), ran.how);

  auto plain = backend();
  Trainer(*plain, dataset_, config("cpu", 1), log_).run();
  const Checkpoint cpu_checkpoint = load_checkpoint(checkpoint_path(root_ / "cpu", 1));
  EXPECT_FALSE(recorded_conv_algorithms(cpu_checkpoint.metadata.extra).chosen());
  EXPECT_EQ(cpu_checkpoint.metadata.extra.count("cudnn.forward_algorithm"), 0u);
}

TEST_F(TrainerTest, WritesOneMetricsRowAndOneCheckpointPerEpoch) {
  auto cpu = backend();
  const TrainResult result = Trainer(*cpu, dataset_, config("plain", 3), log_).run();
  EXPECT_EQ(result.epochs_completed, 3);
  EXPECT_EQ(result.stop_signal, 0);
  const std::string metrics = metrics_without_timing(root_ / "plain");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 4) << metrics;
  for (int epoch = 1; epoch <= 3; ++epoch) EXPECT_TRUE(fs::exists(checkpoint_path(root_ / "plain", epoch)));
  const Checkpoint last = load_checkpoint(checkpoint_path(root_ / "plain", 3));
  EXPECT_EQ(last.metadata.epoch, 3);
  EXPECT_EQ(last.state.step, 30);  // 3 epochs x 10 batches
  EXPECT_NE(log_.str().find("epoch 3/3  train loss "), std::string::npos) << log_.str();
}

// Reads a whole file, to compare two of them byte for byte.
std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(TrainerTest, DeterministicRunsWriteByteIdenticalMetricsAndCheckpoints) {
  std::string metrics[2], checkpoint[2];
  for (int run = 0; run < 2; ++run) {
    auto cpu = backend();
    TrainConfig deterministic = config("run" + std::to_string(run), 2);
    deterministic.deterministic = true;
    Trainer(*cpu, dataset_, deterministic, log_).run();
    metrics[run] = file_bytes(deterministic.run_dir / "metrics.csv");
    checkpoint[run] = file_bytes(checkpoint_path(deterministic.run_dir, 2));
  }
  EXPECT_EQ(metrics[0], metrics[1]);
  // Three lines (header and two rows) whose timing fields and resumed_at_batch are empty, then
  // the learning rate and the empty val_loss and val_accuracy of a run without a validation split.
  EXPECT_EQ(std::count(metrics[0].begin(), metrics[0].end(), '\n'), 3) << metrics[0];
  EXPECT_NE(metrics[0].find(",,,,0.001,,\n"), std::string::npos) << metrics[0];
  ASSERT_FALSE(checkpoint[0].empty());
  EXPECT_TRUE(checkpoint[0] == checkpoint[1]) << "checkpoints of two deterministic runs differ";
}

TEST_F(TrainerTest, ResumeAfterStopMidEpochEqualsAnUninterruptedRunBitForBit) {
  auto uninterrupted = backend();
  Trainer(*uninterrupted, dataset_, config("whole", 3), log_).run();
  const ModelState expected = uninterrupted->state();

  // Stop during epoch 2 (step 14 = batch 4 of epoch 2), then resume in a fresh backend.
  auto first = backend();
  StoppingBackend stopping(*first, 14);
  TrainConfig part = config("split", 3);
  const TrainResult stopped = Trainer(stopping, dataset_, part, log_).run();
  EXPECT_EQ(stopped.stop_signal, SIGTERM);
  EXPECT_EQ(stopped.epochs_completed, 1);
  EXPECT_EQ(stopped.last_checkpoint.filename(), "epoch-002-batch-00004.safetensors");
  StopSignal::reset();

  auto second = backend();
  part.resume_from = resolve_resume_source(root_ / "split");
  EXPECT_EQ(part.resume_from, stopped.last_checkpoint);
  const TrainResult resumed = Trainer(*second, dataset_, part, log_).run();
  EXPECT_EQ(resumed.epochs_completed, 3);
  const ModelState actual = second->state();
  EXPECT_EQ(actual.step, expected.step);
  // Bit-for-bit: the same batches in the same order through the same deterministic CPU math.
  EXPECT_TRUE(actual.parameters == expected.parameters);
  EXPECT_TRUE(actual.adam_m == expected.adam_m);
  EXPECT_TRUE(actual.adam_v == expected.adam_v);
  EXPECT_EQ(metrics_without_timing(root_ / "split"), metrics_without_timing(root_ / "whole"));
}

// The resumed process times only the batches it trains: the rate of the whole epoch's samples over
// that time overstated it several times. metrics.csv says where the epoch was resumed, so that a
// reader knows what its timings cover; an epoch trained in one go says 0.
TEST_F(TrainerTest, AMidEpochResumeSaysWhatItsTimingsCover) {
  auto first = backend();
  StoppingBackend stopping(*first, 14);  // batch 4 of epoch 2
  TrainConfig part = config("split", 3);
  Trainer(stopping, dataset_, part, log_).run();
  StopSignal::reset();
  auto second = backend();
  part.resume_from = resolve_resume_source(root_ / "split");
  std::ostringstream resumed_log;
  Trainer(*second, dataset_, part, resumed_log).run();

  std::ifstream in(root_ / "split" / "metrics.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, kMetricsHeader);
  std::vector<std::string> last_fields;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field;
    for (int column = 0; column <= 7; ++column) std::getline(fields, field, ',');  // resumed_at_batch
    last_fields.push_back(field);
  }
  EXPECT_EQ(last_fields, (std::vector<std::string>{"0", "4", "0"})) << "resumed_at_batch of epochs 1, 2, 3";
  EXPECT_NE(resumed_log.str().find("samples/s (resumed at batch 4/10: time and rate of the last 6 batches)"),
            std::string::npos)
      << resumed_log.str();
  const size_t epoch_3 = resumed_log.str().find("epoch 3/3");
  ASSERT_NE(epoch_3, std::string::npos);
  EXPECT_EQ(resumed_log.str().find("resumed at batch", epoch_3), std::string::npos) << "epoch 3 ran whole";
}

TEST_F(TrainerTest, StopAtAnEpochBoundaryResumesFromTheEpochCheckpoint) {
  auto first = backend();
  StoppingBackend stopping(*first, 10);  // the last batch of epoch 1
  TrainConfig part = config("boundary", 2);
  const TrainResult stopped = Trainer(stopping, dataset_, part, log_).run();
  EXPECT_EQ(stopped.stop_signal, SIGTERM);
  EXPECT_EQ(stopped.epochs_completed, 1);
  EXPECT_EQ(stopped.last_checkpoint, checkpoint_path(root_ / "boundary", 1));
  EXPECT_NE(log_.str().find("resume with: train_gpu --resume"), std::string::npos);
}

TEST_F(TrainerTest, ResumeRefusesAnotherBatchSize) {
  auto cpu = backend();
  Trainer(*cpu, dataset_, config("a", 1), log_).run();
  TrainConfig other = config("b", 2);
  other.batch_size = 32;
  other.resume_from = checkpoint_path(root_ / "a", 1);
  auto fresh = backend();
  try {
    Trainer(*fresh, dataset_, other, log_).run();
    FAIL() << "resume with another batch size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--batch-size 64"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, DivergenceStopsWithEpochAndStepAndKeepsTheLastGoodCheckpoint) {
  auto cpu = backend();
  TrainConfig stable = config("nan", 1);
  Trainer(*cpu, dataset_, stable, log_).run();
  TrainConfig wild = stable;
  wild.epochs = 3;
  wild.resume_from = checkpoint_path(stable.run_dir, 1);
  // --lr 1e9 only saturates this small subset (dead ReLUs keep the loss finite); 1e25 overflows
  // the first fc1 product (1e25 weights times 1e25 activations) at once.
  auto fresh = backend(1e25f);
  try {
    Trainer(*fresh, dataset_, wild, log_).run();
    FAIL() << "training with --lr 1e25 did not stop";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("non-finite"), std::string::npos) << message;
    EXPECT_NE(message.find("epoch 2, step "), std::string::npos) << message;
    EXPECT_NE(message.find("epoch-001.safetensors"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(checkpoint_path(stable.run_dir, 2)));
  EXPECT_NO_THROW(load_checkpoint(checkpoint_path(stable.run_dir, 1)));
}

// The epoch's last batch with a finite loss and overflowing gradients (support/overflowing_gradient.h):
// the step leaves NaN weights, and the epoch's checkpoint would hold them. The run must stop there
// with the divergence error instead of saving that checkpoint as good.
TEST_F(TrainerTest, OverflowingGradientsAtTheEpochsLastBatchStopTheRunBeforeItsCheckpoint) {
  auto cpu = backend();
  StoppingBackend poisoned(*cpu, -1);  // never stops
  poisoned.before_step(10, [](Backend& real) {  // the last of epoch 1's 10 batches
    ModelState state = real.state();
    testing::make_fc1_gradient_overflow(state);
    real.set_state(state);
  });
  TrainConfig run = config("overflow", 1);
  try {
    Trainer(poisoned, dataset_, run, log_).run();
    ADD_FAILURE() << "the run finished as if the epoch were good";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("non-finite loss or gradients at epoch 1, step 10 (batch 10 of the epoch)"), std::string::npos)
        << message;
  }
  EXPECT_FALSE(fs::exists(checkpoint_path(run.run_dir, 1))) << "a checkpoint of NaN weights was saved as good";
}

TEST_F(TrainerTest, KeepLastPrunesOlderEpochCheckpoints) {
  auto cpu = backend();
  TrainConfig pruned = config("pruned", 3);
  pruned.keep_last = 1;
  Trainer(*cpu, dataset_, pruned, log_).run();
  EXPECT_FALSE(fs::exists(checkpoint_path(pruned.run_dir, 1)));
  EXPECT_FALSE(fs::exists(checkpoint_path(pruned.run_dir, 2)));
  EXPECT_TRUE(fs::exists(checkpoint_path(pruned.run_dir, 3)));
}

// "Keep only the newest N epoch checkpoints" counts checkpoints: with --save-every 2 the newest
// two are epochs 2 and 4, where counting back N epoch numbers from 4 kept only epoch 4.
TEST_F(TrainerTest, KeepLastCountsCheckpointsNotEpochNumbers) {
  auto cpu = backend();
  TrainConfig sparse = config("sparse", 4);
  sparse.save_every = 2;
  sparse.keep_last = 2;
  Trainer(*cpu, dataset_, sparse, log_).run();
  std::vector<std::string> left;
  for (const fs::path& file : checkpoints_in_training_order(sparse.run_dir / "checkpoints")) left.push_back(file.filename().string());
  EXPECT_EQ(left, (std::vector<std::string>{"epoch-002.safetensors", "epoch-004.safetensors"}));
}

// A mid-epoch checkpoint older than the newest epoch checkpoint is superseded: nothing resumes from
// it, and each is as large as any checkpoint (8 MB).
TEST_F(TrainerTest, KeepLastPrunesSupersededMidEpochCheckpoints) {
  auto first = backend();
  StoppingBackend stopping(*first, 14);  // batch 4 of epoch 2
  TrainConfig part = config("pruned", 3);
  part.keep_last = 1;
  Trainer(stopping, dataset_, part, log_).run();
  StopSignal::reset();
  ASSERT_TRUE(fs::exists(interrupted_checkpoint_path(part.run_dir, 2, 4)));
  auto second = backend();
  part.resume_from = resolve_resume_source(part.run_dir);
  Trainer(*second, dataset_, part, log_).run();
  std::vector<std::string> left;
  for (const fs::path& file : checkpoints_in_training_order(part.run_dir / "checkpoints")) left.push_back(file.filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"epoch-003.safetensors"});
}

// A run killed inside its last save leaves the save's temporary; a resume that finds nothing left
// to train must still clear it.
TEST_F(TrainerTest, ResumeWithNothingToDoRemovesAKilledRunsTemporary) {
  auto cpu = backend();
  Trainer(*cpu, dataset_, config("done", 1), log_).run();
  const pid_t child = ::fork();  // a pid that surely existed and is gone
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const fs::path temporary = root_ / "done" / "checkpoints" / (".epoch-002.safetensors.tmp-" + std::to_string(child) + "-0");
  std::ofstream(temporary) << "half a checkpoint";

  TrainConfig again = config("done", 1);
  again.resume_from = checkpoint_path(root_ / "done", 1);
  std::ostringstream log;
  auto fresh = backend();
  Trainer(*fresh, dataset_, again, log).run();
  EXPECT_NE(log.str().find("nothing to do"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("removed 1 unfinished file(s)"), std::string::npos) << log.str();
  EXPECT_FALSE(fs::exists(temporary));
}

TEST_F(TrainerTest, DryRunTakesOneBatchOfEach) {
  auto cpu = backend();
  TrainConfig dry = config("dry", 10);
  dry.dry_run = true;
  const TrainResult result = Trainer(*cpu, dataset_, dry, log_).run();
  EXPECT_EQ(result.epochs_completed, 1);
  EXPECT_EQ(cpu->state().step, 1);
}

TEST_F(TrainerTest, TellsItsObserverTheStartRunningTotalsAndEachEpoch) {
  auto cpu = backend();
  RecordingObserver observer(3);
  Trainer(*cpu, dataset_, config("observed", 2), log_, &observer).run();
  ASSERT_EQ(observer.starts.size(), 1u);
  EXPECT_FALSE(observer.starts[0].resumed);
  EXPECT_EQ(observer.starts[0].epochs_completed, 0);
  EXPECT_EQ(observer.starts[0].step, 0);
  EXPECT_EQ(observer.start_step_in_state, 0);

  std::vector<int64_t> steps, epochs, batches;
  for (const auto& r : observer.running) {
    steps.push_back(r.step);
    epochs.push_back(r.epoch);
    batches.push_back(r.so_far.batches);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{3, 6, 9, 12, 15, 18}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(batches, (std::vector<int64_t>{3, 6, 9, 2, 5, 8}));  // the epoch so far, not the run

  ASSERT_EQ(observer.epochs.size(), 2u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_EQ(observer.epochs[e].metrics.epoch, e + 1);
    EXPECT_EQ(observer.epochs[e].step, 10 * (e + 1));
    EXPECT_EQ(observer.epochs[e].state_step, 10 * (e + 1));
  }
  // The weights reported at the last epoch are the ones its checkpoint holds.
  EXPECT_TRUE(observer.epochs[1].parameters == load_checkpoint(checkpoint_path(root_ / "observed", 2)).state.parameters);
}

TEST_F(TrainerTest, ObserverOfAResumedRunSeesTheWholeEpochsRunningTotals) {
  auto whole_backend = backend();
  RecordingObserver whole(5);
  Trainer(*whole_backend, dataset_, config("whole", 2), log_, &whole).run();

  auto first = backend();
  StoppingBackend stopping(*first, 14);  // batch 4 of epoch 2
  TrainConfig part = config("split", 2);
  RecordingObserver before(5);
  Trainer(stopping, dataset_, part, log_, &before).run();
  StopSignal::reset();
  auto second = backend();
  part.resume_from = resolve_resume_source(root_ / "split");
  RecordingObserver after(5);
  Trainer(*second, dataset_, part, log_, &after).run();

  ASSERT_EQ(after.starts.size(), 1u);
  EXPECT_TRUE(after.starts[0].resumed);
  EXPECT_EQ(after.starts[0].epochs_completed, 1);
  EXPECT_EQ(after.starts[0].batches_into_epoch, 4);
  EXPECT_EQ(after.starts[0].step, 14);
  EXPECT_EQ(after.start_step_in_state, 14);
  // Steps 5 and 10 before the stop, 15 and 20 after it: each once, as in the uninterrupted run,
  // and at 15 the totals include the 4 batches taken before the stop, bit for bit.
  ASSERT_EQ(before.running.size(), 2u);
  ASSERT_EQ(after.running.size(), 2u);
  ASSERT_EQ(whole.running.size(), 4u);
  EXPECT_EQ(after.running[0].step, 15);
  EXPECT_EQ(after.running[0].so_far.batches, 5);
  EXPECT_EQ(after.running[0].so_far.batch_loss_sum, whole.running[2].so_far.batch_loss_sum);
  EXPECT_EQ(after.running[0].so_far.correct, whole.running[2].so_far.correct);
  EXPECT_EQ(after.running[1].step, 20);
  ASSERT_EQ(after.epochs.size(), 1u);
  EXPECT_EQ(after.epochs[0].metrics.train_loss, whole.epochs[1].metrics.train_loss);
}

TEST_F(TrainerTest, ObserverIsNotStartedWhenThereIsNothingToDo) {
  auto cpu = backend();
  Trainer(*cpu, dataset_, config("done", 1), log_).run();
  TrainConfig again = config("done", 1);
  again.resume_from = checkpoint_path(root_ / "done", 1);
  RecordingObserver observer(1);
  auto fresh = backend();
  Trainer(*fresh, dataset_, again, log_, &observer).run();
  EXPECT_TRUE(observer.starts.empty());
  EXPECT_TRUE(observer.epochs.empty());
}

TEST(BatchCount, KeepsTheLastPartialBatch) {
  EXPECT_EQ(batch_count(60000, 64), 938);  // 937 full batches and one of 32, as tf.data
  EXPECT_EQ(batch_count(64, 64), 1);
  EXPECT_EQ(batch_count(65, 64), 2);
  EXPECT_EQ(batch_count(10000, 100), 100);
}

TEST(RunDirectory, UncreatableDirectoryIsReportedAtStartUp) {
  const fs::path file = fs::temp_directory_path() / ("trainer_test_file_" + std::to_string(::getpid()));
  std::ofstream(file) << "not a directory";
  try {
    prepare_run_directory(file / "run");
    FAIL() << "a run directory below a regular file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be created"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

}  // namespace
}  // namespace train_gpu
