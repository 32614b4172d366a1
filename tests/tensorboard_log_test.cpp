// What `train` does to the files already in RUN/train (TensorBoard's "train" run), run as a user runs it (the built
// binary): a new run and a resume leave a user's notes-tfevents.txt alone, and a resume over an
// event file with one flipped byte keeps every readable value of it (epoch 1's scalars,
// histograms and running steps), moves the original aside and names it. Skips without MNIST.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "host/model/backend.h"
#include "host/tensorboard/event_file.h"
#include "host/tensorboard/tensorboard_log.h"
#include "host/train/run_directory.h"
#include "support/example_networks.h"
#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
namespace tb = train_gpu::tensorboard;

// 640 training images in batches of 64: 10 steps an epoch; running values every 4 steps.
constexpr int kStepsPerEpoch = 10;

// (tag, step) of every summary value in `file`.
std::set<std::pair<std::string, int64_t>> values_in(const fs::path& file) {
  std::set<std::pair<std::string, int64_t>> values;
  for (const tb::Event& event : tb::read_event_file(file).events) {
    for (const tb::Summary::Value& value : event.summary().value()) values.insert({value.tag(), event.step()});
  }
  return values;
}

class TensorBoardLog : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  }
  t::CommandResult train(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " --device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                              " --limit-train 640 --limit-test 200 --no-progress --tensorboard-every 4 --run-dir " +
                              t::shell_quote(run_.string()) + " " + arguments,
                          scratch_.path());
  }

  t::TempDir scratch_;
  fs::path run_ = scratch_ / "run";
  fs::path board_ = run_ / "train";  // Keras's layout: RUN/train/, RUN/validation/
};

TEST_F(TensorBoardLog, ANewRunAndAResumeLeaveAUsersFileAlone) {
  fs::create_directories(board_);
  const fs::path notes = board_ / "notes-tfevents.txt";
  t::write_file(notes, {'m', 'y', ' ', 'n', 'o', 't', 'e', 's', '\n'});
  const t::CommandResult first = train("--epochs 2");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_TRUE(fs::exists(notes)) << "a new run deleted the user's file";
  t::expect_contains(first.out, "tensorboard: left " + notes.string() + " as it is");
  t::write_file(notes, {'m', 'y', ' ', 'n', 'o', 't', 'e', 's', '\n'});  // for the resume's sake, were it gone

  ASSERT_TRUE(fs::remove(checkpoint_path(run_, 2)));  // so that the resume has events to drop
  const t::CommandResult resumed = train("--epochs 2 --resume " + t::shell_quote(run_.string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  ASSERT_TRUE(fs::exists(notes)) << "a resume deleted the user's file";
  EXPECT_EQ(t::read_text(notes), "my notes\n");
  t::expect_contains(resumed.out, "tensorboard: left " + notes.string() + " as it is");
}

// The case: one flipped byte in a record (here the initial weights' histograms), and the
// run resumed from epoch 1 (epoch 2's checkpoint lost), so epoch 2's values are trained again.
// Before, the resume deleted the whole file, epoch 1's scalars, histograms and running steps with it.
TEST_F(TensorBoardLog, AResumeKeepsEveryReadableValueOfADamagedFileAndTheOriginal) {
  const t::CommandResult first = train("--epochs 2");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::vector<fs::path> files = tb::event_files(board_);
  ASSERT_EQ(files.size(), 1u);
  const fs::path ours = files[0];
  const std::set<std::pair<std::string, int64_t>> written = values_in(ours);
  std::string bytes = t::read_text(ours);
  const std::size_t initial_weights_at = bytes.find("weights/conv.weight");  // the first record with it: step 0
  ASSERT_NE(initial_weights_at, std::string::npos);
  bytes[initial_weights_at] ^= 0x01;
  t::write_file(ours, t::Bytes(bytes.begin(), bytes.end()));
  ASSERT_TRUE(fs::remove(checkpoint_path(run_, 2)));

  const t::CommandResult resumed = train("--epochs 2 --resume " + t::shell_quote(run_.string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  ASSERT_TRUE(fs::exists(ours)) << "the resume deleted epoch 1's values\n" << resumed.out;
  const fs::path copy = board_ / (ours.filename().string().replace(0, 20, "events.out.tf-events.") + ".damaged");
  ASSERT_TRUE(fs::exists(copy)) << "the damaged original was not kept\n" << resumed.out;
  EXPECT_EQ(t::read_text(copy), bytes) << "the damaged original must be kept byte for byte";
  t::expect_contains(resumed.out, "tensorboard: " + ours.string() + ": unreadable records (record data that fails its CRC-32C");
  t::expect_contains(resumed.out, "the original is now " + copy.filename().string());
  t::expect_contains(resumed.out, "written after the checkpoint (epoch 1, step 10)");
  // What the first file keeps: everything it had up to the checkpoint but the initial weights.
  std::set<std::pair<std::string, int64_t>> expected;
  for (const auto& [tag, step] : written) {
    const bool counts_steps = tag.rfind("batch_", 0) == 0;
    if (step != 0 && step <= (counts_steps ? kStepsPerEpoch : 1)) expected.insert({tag, step});
  }
  EXPECT_TRUE(expected.count({"epoch_loss", 1}) && expected.count({"weights/fc1.weight", 1}) &&
              expected.count({"batch_loss", 8}))
      << "epoch 1's scalars, histograms and running steps";
  EXPECT_EQ(values_in(ours), expected);
  EXPECT_EQ(tb::read_event_file(ours).damage, "");
}

// Any model: the initial weights get one histogram per parameter tensor of its spec, tagged by
// the tensor's name, holding that tensor's values (BatchNormalization's moving statistics are
// not parameters, and get none); weights of another model's size are an error, not a histogram
// of the wrong slices.
TEST(TensorBoardWeights, OneHistogramPerParameterTensorOfTheSpec) {
  const model::NetworkSpec spec = t::cifar_batchnorm_network();
  t::TempDir scratch;
  std::ostringstream log;
  ModelState state;
  state.parameters = t::random_parameter_arena(spec, 5);
  RunStart start;
  start.epochs = 1;
  start.state = &state;
  {
    tb::TensorBoardLog board(scratch / "run", 0, "", {}, log, spec);
    board.on_run_start(start);
  }  // its writers flush and close

  std::map<std::string, int64_t> counts;  // tag -> values in its histogram, at step 0
  for (const fs::path& file : tb::event_files(scratch / "run" / tb::kTrainRun)) {
    for (const tb::Event& event : tb::read_event_file(file).events) {
      for (const tb::Summary::Value& value : event.summary().value()) {
        if (event.step() == 0 && value.has_histo()) counts[value.tag()] = int64_t(value.histo().num());
      }
    }
  }
  std::map<std::string, int64_t> expected;
  for (const model::ArenaTensor& tensor : spec.parameters) expected["weights/" + tensor.name] = int64_t(tensor.count);
  EXPECT_EQ(counts, expected);
  EXPECT_EQ(counts.count("weights/1.running_mean"), 0u);

  tb::TensorBoardLog tutorial_board(scratch / "tutorial", 0, "", {}, log, model::tutorial_network());
  t::expect_contains(t::error_of([&] { tutorial_board.on_run_start(start); }),
                     "tensorboard: expected 693962 parameters, got " + std::to_string(spec.parameter_count));
}

}  // namespace
}  // namespace train_gpu
