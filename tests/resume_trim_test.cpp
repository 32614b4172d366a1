// Resume trimming on hand-made event files: what is past the resume point goes (per step axis),
// everything else stays; untouched files stay byte-identical; emptied files go. A file with
// unreadable records keeps every readable one and its original moves aside, never overwritten;
// files train_gpu did not write (a user's notes-tfevents.txt, another writer's) are never touched,
// by a resume or by a new run, and every file touched or left is named.
#include "host/tensorboard/resume_trim.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "host/tensorboard/event_file.h"
#include "host/tensorboard/record_file.h"
#include "host/tensorboard/summaries.h"
#include "support/test_support.h"

namespace train_gpu::tensorboard {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

// (tag, step) of every summary value in the directory's files.
std::set<std::pair<std::string, int64_t>> values_in(const fs::path& directory) {
  std::set<std::pair<std::string, int64_t>> values;
  for (const fs::path& file : event_files(directory)) {
    for (const Event& event : read_event_file(file).events) {
      for (const Summary::Value& value : event.summary().value()) values.insert({value.tag(), event.step()});
    }
  }
  return values;
}

// Where the first damaged copy of `file` goes: "tfevents" spelled so that TensorBoard skips it.
fs::path first_copy_of(const fs::path& file) {
  return file.parent_path() / (file.filename().string().replace(0, 20, "events.out.tf-events.") + ".damaged");
}

// A run of 3 epochs of 10 steps: running values every 5 steps, epoch values at 1..3, config at 0.
fs::path write_run(const fs::path& directory) {
  EventFileWriter writer(directory);
  writer.write(summary_event(0, {text_value("config", "{}")}));
  for (int64_t step = 5; step <= 30; step += 5) {
    writer.write(summary_event(step, {scalar_value("running/train_loss", 1.0 / double(step))}));
    if (step % 10 == 0) writer.write(summary_event(step / 10, {scalar_value("train_loss", 0.5), scalar_value("test_loss", 0.6)}));
  }
  writer.flush();
  return writer.path();
}

TEST(ResumeTrim, DropsWhatIsPastTheResumePointOnEachAxis) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  // Resume from a mid-epoch checkpoint: epoch 1 complete, 5 steps into epoch 2 (step 15).
  const TrimSummary summary = drop_events_after(dir.path(), 1, 15);
  EXPECT_EQ(summary.files_rewritten, 1);
  EXPECT_EQ(summary.files_removed, 0);
  EXPECT_EQ(summary.values_dropped, 3 + 2 * 2);  // running at 20, 25, 30; two values at epochs 2 and 3
  EXPECT_EQ(summary.files_moved_aside, 0);
  ASSERT_EQ(summary.notices.size(), 1u);
  EXPECT_EQ(summary.notices[0], file.string() + ": dropped 7 value(s) written after the checkpoint (epoch 1, step 15); they "
                                               "are trained again");
  const std::set<std::pair<std::string, int64_t>> expected{{"config", 0},           {"running/train_loss", 5},
                                                           {"running/train_loss", 10}, {"running/train_loss", 15},
                                                           {"train_loss", 1},        {"test_loss", 1}};
  EXPECT_EQ(values_in(dir.path()), expected);
  EXPECT_EQ(read_event_file(file).events.at(0).file_version(), kFileVersion);  // still a valid event file
}

TEST(ResumeTrim, LeavesAFileWithNothingPastThePointByteForByte) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  const std::string before = t::read_text(file);
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);
  EXPECT_EQ(summary.files_rewritten, 0);
  EXPECT_EQ(summary.values_dropped, 0);
  EXPECT_TRUE(summary.notices.empty());
  EXPECT_EQ(t::read_text(file), before);
}

TEST(ResumeTrim, ATornTailIsDroppedAndTheOriginalKeptAside) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  const std::string intact = t::read_text(file);
  const std::string torn = frame_record(summary_event(35, {scalar_value("running/train_loss", 9)}).SerializeAsString());
  const std::string damaged = intact + torn.substr(0, torn.size() / 2);
  t::write_file(file, t::Bytes(damaged.begin(), damaged.end()));
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);
  EXPECT_EQ(summary.files_rewritten, 1);
  EXPECT_EQ(summary.files_moved_aside, 1);
  ASSERT_EQ(summary.notices.size(), 1u);
  t::expect_contains(summary.notices[0], file.string() + ": unreadable records (a record of ");
  t::expect_contains(summary.notices[0], "cut short at byte " + std::to_string(intact.size()));
  EXPECT_EQ(read_event_file(file).damage, "");
  EXPECT_EQ(t::read_text(file), intact);  // every intact record, framed again, is the intact prefix
  EXPECT_EQ(values_in(dir.path()).size(), 1u + 6u + 6u);
}

// The case: one flipped byte in the config record (the second) of a run's file, resumed
// from epoch 1. Before, the whole file went: epoch 1's scalars and steps 1..15, never trained again.
TEST(ResumeTrim, ABadRecordInTheMiddleLosesOnlyItselfAndTheOriginalMovesAside) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  std::string bytes = t::read_text(file);
  const std::size_t config_at = bytes.find("config");
  ASSERT_NE(config_at, std::string::npos);
  bytes[config_at] ^= 0x01;
  t::write_file(file, t::Bytes(bytes.begin(), bytes.end()));

  const TrimSummary summary = drop_events_after(dir.path(), 1, 15);
  const fs::path copy = first_copy_of(file);
  ASSERT_TRUE(fs::exists(copy)) << copy;
  EXPECT_EQ(t::read_text(copy), bytes) << "the original must be kept byte for byte";
  EXPECT_EQ(summary.files_moved_aside, 1);
  EXPECT_EQ(summary.files_rewritten, 1);
  ASSERT_EQ(summary.notices.size(), 1u);
  t::expect_contains(summary.notices[0], file.string() + ": unreadable records (record data that fails its CRC-32C at byte ");
  t::expect_contains(summary.notices[0], "the original is now " + copy.filename().string() + ", rewritten with the 5 readable value(s)");
  t::expect_contains(summary.notices[0], "dropped 7 value(s) written after the checkpoint (epoch 1, step 15)");
  const std::set<std::pair<std::string, int64_t>> expected{{"running/train_loss", 5}, {"running/train_loss", 10},
                                                           {"running/train_loss", 15}, {"train_loss", 1}, {"test_loss", 1}};
  EXPECT_EQ(values_in(dir.path()), expected);
  EXPECT_EQ(event_files(dir.path()), std::vector<fs::path>{file}) << "TensorBoard must not read the copy (same steps twice)";
  EXPECT_EQ(read_event_file(file).damage, "");  // TensorBoard stops at a bad record; now it reads the file whole
}

TEST(ResumeTrim, EveryDamagedFileIsNamed) {
  t::TempDir dir;
  const fs::path first = write_run(dir.path());
  const fs::path second = write_run(dir.path());  // a later start's file (its name sorts after)
  ASSERT_NE(first, second);
  for (const fs::path& file : {first, second}) {
    std::ofstream(file, std::ios::app | std::ios::binary) << "torn";
  }
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);
  EXPECT_EQ(summary.files_moved_aside, 2);
  ASSERT_EQ(summary.notices.size(), 2u);
  t::expect_contains(summary.notices[0], first.string() + ": unreadable records (a record header cut short");
  t::expect_contains(summary.notices[1], second.string() + ": unreadable records (a record header cut short");
  EXPECT_TRUE(fs::exists(first_copy_of(first)));
  EXPECT_TRUE(fs::exists(first_copy_of(second)));
}

TEST(ResumeTrim, DamagedCopiesAreNumberedAndNeverOverwritten) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  const std::string intact = t::read_text(file);
  const fs::path first_copy = damaged_copy_name(file);
  EXPECT_EQ(first_copy.filename().string().find("tfevents"), std::string::npos) << first_copy;
  for (int round = 1; round <= 3; ++round) {
    SCOPED_TRACE(round);
    const std::string damaged = intact + std::string(5, static_cast<char>(round));  // a different torn tail each time
    t::write_file(file, t::Bytes(damaged.begin(), damaged.end()));
    drop_events_after(dir.path(), 3, 30);
    const fs::path copy = round == 1 ? first_copy : fs::path(first_copy.string() + "-" + std::to_string(round));
    EXPECT_EQ(t::read_text(copy), damaged);
  }
  EXPECT_EQ(t::read_text(first_copy), intact + std::string(5, '\1'));
}

// A user's notes and another writer's event file with values past the resume point, in the
// directory: a resume and a new run leave both byte for byte, and say so.
TEST(ResumeTrim, OnlyFilesTrainGpuWroteAreEverChanged) {
  t::TempDir dir;
  const fs::path ours = write_run(dir.path());
  const fs::path notes = dir / "notes-tfevents.txt";
  t::write_file(notes, {'m', 'y', ' ', 'n', 'o', 't', 'e', 's', '\n'});
  // Named as we name ours (PyTorch's SummaryWriter uses the same pattern), but not ours inside.
  const fs::path theirs = dir / event_file_name(1000000000, "elsewhere", 7);
  Event version;
  version.set_file_version(kFileVersion);
  const std::string foreign = frame_record(version.SerializeAsString()) +
                              frame_record(summary_event(9, {scalar_value("train_loss", 0.25)}).SerializeAsString());
  t::write_file(theirs, t::Bytes(foreign.begin(), foreign.end()));

  const TrimSummary summary = drop_events_after(dir.path(), 1, 15);
  EXPECT_EQ(summary.files_rewritten, 1);
  EXPECT_EQ(t::read_text(notes), "my notes\n");
  EXPECT_EQ(t::read_text(theirs), foreign);
  ASSERT_EQ(summary.notices.size(), 3u);
  const std::string all = summary.notices[0] + "\n" + summary.notices[1] + "\n" + summary.notices[2];
  t::expect_contains(all, "left " + notes.string() + " as it is (not named as train_gpu names its event files");
  t::expect_contains(all, "left " + theirs.string() + " as it is (its first record is not train_gpu's file_version record");
  t::expect_contains(all, ours.string() + ": dropped 7 value(s)");

  const std::vector<std::string> removed = remove_earlier_run(dir.path());
  EXPECT_FALSE(fs::exists(ours));
  EXPECT_EQ(t::read_text(notes), "my notes\n");
  EXPECT_EQ(t::read_text(theirs), foreign);
  ASSERT_EQ(removed.size(), 3u);
  const std::string all_removed = removed[0] + "\n" + removed[1] + "\n" + removed[2];
  t::expect_contains(all_removed, "removed " + ours.string() + " of an earlier run");
  t::expect_contains(all_removed, "left " + notes.string() + " as it is");
  t::expect_contains(all_removed, "left " + theirs.string() + " as it is");
}

TEST(ResumeTrim, RemovesAFileLeftWithoutValues) {
  t::TempDir dir;
  {
    EventFileWriter writer(dir.path());
    writer.write(summary_event(4, {scalar_value("train_loss", 0.1)}));
  }
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);
  EXPECT_EQ(summary.files_removed, 1);
  EXPECT_TRUE(event_files(dir.path()).empty());
  ASSERT_EQ(summary.notices.size(), 1u);
  t::expect_contains(summary.notices[0], "removed: all its values were written after the checkpoint (epoch 3, step 30)");
}

TEST(ResumeTrim, TellsTheStepAxisFromTheTag) {
  EXPECT_TRUE(tag_counts_optimizer_steps("batch_loss"));          // Keras's name, written since 2026-12
  EXPECT_TRUE(tag_counts_optimizer_steps("running/train_loss"));  // in the files of older runs
  EXPECT_FALSE(tag_counts_optimizer_steps("epoch_loss"));
  EXPECT_FALSE(tag_counts_optimizer_steps("train_loss"));
  EXPECT_FALSE(tag_counts_optimizer_steps("weights/running"));
  EXPECT_FALSE(tag_counts_optimizer_steps("weights/batch_norm"));
  EXPECT_TRUE(tag_describes_whole_run("_hparams_/session_start_info"));
  EXPECT_FALSE(tag_describes_whole_run("config"));
}

// The HParams session is written at step 0 by every start, so a resume must drop the earlier one
// whatever the resume point, or the run's directory holds two starts (and a finished run's end
// beside a resumed, unfinished one). The config text, also at step 0, stays.
TEST(ResumeTrim, AResumeDropsTheHParamsSessionWhateverItsStep) {
  t::TempDir dir;
  fs::path file;
  {
    EventFileWriter writer(dir.path());
    file = writer.path();
    writer.write(summary_event(0, {text_value("config", "{}"), hparams_start_value({{"learning_rate", 0.001}}, 1.0)}));
    writer.write(summary_event(0, {hparams_end_value(2.0)}));
  }
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);  // past every step written
  EXPECT_EQ(summary.values_replaced, 2);
  EXPECT_EQ(summary.values_dropped, 2);
  EXPECT_EQ(values_in(dir.path()), (std::set<std::pair<std::string, int64_t>>{{"config", 0}}));
  ASSERT_EQ(summary.notices.size(), 1u);
  EXPECT_EQ(summary.notices[0], file.string() + ": dropped the HParams session (2 value(s)): this start writes it again");

  // With nothing else in it, the file goes, and the notice says why.
  t::TempDir alone;
  {
    EventFileWriter writer(alone.path());
    file = writer.path();
    writer.write(summary_event(0, {hparams_start_value({{"optimizer", std::string("adam")}}, 1.0)}));
  }
  const TrimSummary removed = drop_events_after(alone.path(), 3, 30);
  EXPECT_EQ(removed.files_removed, 1);
  EXPECT_TRUE(event_files(alone.path()).empty());
  ASSERT_EQ(removed.notices.size(), 1u);
  EXPECT_EQ(removed.notices[0], file.string() + ": removed: it held only the HParams session, which this start writes again");
}

}  // namespace
}  // namespace train_gpu::tensorboard
