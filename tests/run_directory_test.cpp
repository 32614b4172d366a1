// Checkpoint names and what --resume picks from them: training order by number, past epoch 999
// and with mid-epoch checkpoints among the epoch ones, on files the tests make.
#include "host/train/run_directory.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

// A run directory with empty files of these names in checkpoints/ (resolving looks at names only).
fs::path run_with_files(const t::TempDir& scratch, const std::vector<std::string>& names) {
  const fs::path run = scratch / "run";
  fs::create_directories(run / "checkpoints");
  for (const std::string& name : names) std::ofstream(run / "checkpoints" / name) << "";
  return run;
}

std::vector<std::string> names_of(const std::vector<fs::path>& files) {
  std::vector<std::string> names;
  for (const fs::path& file : files) names.push_back(file.filename().string());
  return names;
}

TEST(CheckpointName, ParsesWhatTheTrainerWrites) {
  const std::optional<CheckpointPosition> end = parse_checkpoint_name(checkpoint_path("r", 7).filename().string());
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->epoch, 7);
  EXPECT_EQ(end->batches, 0);
  const std::optional<CheckpointPosition> mid =
      parse_checkpoint_name(interrupted_checkpoint_path("r", 1001, 120).filename().string());
  ASSERT_TRUE(mid.has_value());
  EXPECT_EQ(mid->epoch, 1001);
  EXPECT_EQ(mid->batches, 120);
}

TEST(CheckpointName, RefusesEverythingElse) {
  for (const std::string name : {"epoch-.safetensors", "epoch-x.safetensors", "epoch-003.safetensors.bak",
                                 ".epoch-003.safetensors.tmp-12-0", "epoch-003-batch-.safetensors",
                                 "epoch-003-batch-00000.safetensors", "epoch--3.safetensors", "epoch-003.npy",
                                 "epoch-99999999999999999999.safetensors", "model.safetensors"}) {
    EXPECT_FALSE(parse_checkpoint_name(name).has_value()) << name;
  }
}

TEST(CheckpointName, OrdersAsTrainingGoesNotAsText) {
  const CheckpointPosition end_999{999, 0}, mid_1000{1000, 5}, end_1000{1000, 0}, mid_1001_early{1001, 5},
      mid_1001_late{1001, 40}, end_1001{1001, 0};
  const std::vector<CheckpointPosition> in_order{end_999, mid_1000, end_1000, mid_1001_early, mid_1001_late, end_1001};
  for (size_t i = 0; i < in_order.size(); ++i) {
    for (size_t j = 0; j < in_order.size(); ++j) {
      EXPECT_EQ(in_order[i] < in_order[j], i < j) << i << " vs " << j;
    }
  }
}

// The case: as text "epoch-999" sorts last, and resuming from it trained 1000 and 1001 again.
TEST(ResumeSource, PicksTheNewestPastEpoch999) {
  t::TempDir scratch;
  const fs::path run = run_with_files(scratch, {"epoch-999.safetensors", "epoch-1000.safetensors",
                                                "epoch-1001-batch-00005.safetensors", "epoch-1001.safetensors"});
  EXPECT_EQ(resolve_resume_source(run), run / "checkpoints" / "epoch-1001.safetensors");
  EXPECT_EQ(names_of(checkpoints_in_training_order(run / "checkpoints")),
            (std::vector<std::string>{"epoch-999.safetensors", "epoch-1000.safetensors",
                                      "epoch-1001-batch-00005.safetensors", "epoch-1001.safetensors"}));
}

TEST(ResumeSource, PicksAMidEpochCheckpointNewerThanTheLastEpochs) {
  t::TempDir scratch;
  const fs::path run = run_with_files(scratch, {"epoch-998.safetensors", "epoch-999.safetensors",
                                                "epoch-1000-batch-00009.safetensors", "epoch-1000-batch-00120.safetensors"});
  EXPECT_EQ(resolve_resume_source(run), run / "checkpoints" / "epoch-1000-batch-00120.safetensors");
}

TEST(ResumeSource, IgnoresFilesThatAreNotCheckpoints) {
  t::TempDir scratch;
  const fs::path run = run_with_files(scratch, {"epoch-002.safetensors", "epoch-x.safetensors", "epoch-003.safetensors.bak",
                                                ".epoch-003.safetensors.tmp-12-0"});
  fs::create_directory(run / "checkpoints" / "epoch-004.safetensors");  // a directory, not a checkpoint
  EXPECT_EQ(resolve_resume_source(run), run / "checkpoints" / "epoch-002.safetensors");
}

TEST(ResumeSource, NoCheckpointIsOneClearError) {
  t::TempDir scratch;
  const fs::path run = run_with_files(scratch, {"notes.txt"});
  t::expect_contains(t::error_of([&] { resolve_resume_source(run); }), "no checkpoint (epoch-NNN.safetensors) found");
}

}  // namespace
}  // namespace train_gpu
