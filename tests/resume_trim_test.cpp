// Resume trimming on hand-made event files: what is past the resume point goes (per step axis),
// a torn tail goes, everything else stays; untouched files stay byte-identical; emptied files go.
#include "host/tensorboard/resume_trim.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

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
  EXPECT_EQ(summary.damage, "");
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
  EXPECT_EQ(t::read_text(file), before);
}

TEST(ResumeTrim, DropsATornTailAndSaysSo) {
  t::TempDir dir;
  const fs::path file = write_run(dir.path());
  const std::string intact = t::read_text(file);
  const std::string torn = frame_record(summary_event(35, {scalar_value("running/train_loss", 9)}).SerializeAsString());
  t::write_file(file, t::Bytes(intact.begin(), intact.end()));
  {
    std::ofstream append(file, std::ios::app | std::ios::binary);
    append << torn.substr(0, torn.size() / 2);
  }
  const TrimSummary summary = drop_events_after(dir.path(), 3, 30);
  EXPECT_EQ(summary.files_rewritten, 1);
  EXPECT_NE(summary.damage.find("cut short"), std::string::npos) << summary.damage;
  EXPECT_EQ(read_event_file(file).damage, "");
  EXPECT_EQ(values_in(dir.path()).size(), 1u + 6u + 6u);
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
}

TEST(ResumeTrim, TellsTheStepAxisFromTheTag) {
  EXPECT_TRUE(tag_counts_optimizer_steps("running/train_loss"));
  EXPECT_FALSE(tag_counts_optimizer_steps("train_loss"));
  EXPECT_FALSE(tag_counts_optimizer_steps("weights/running"));
}

}  // namespace
}  // namespace train_gpu::tensorboard
