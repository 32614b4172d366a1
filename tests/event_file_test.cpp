// Event files round trip: written by EventFileWriter, the raw bytes split into records whose CRCs
// are checked, each record parsed by the generated protobuf classes; names and their order.
#include "host/tensorboard/event_file.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <regex>
#include <string>

#include "host/tensorboard/crc32c.h"
#include "host/tensorboard/record_file.h"
#include "host/tensorboard/summaries.h"
#include "support/test_support.h"

namespace train_gpu::tensorboard {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

uint32_t u32_at(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

TEST(EventFile, RoundTripsThroughTheRecordFramingAndTheGeneratedClasses) {
  t::TempDir dir;
  fs::path file;
  {
    EventFileWriter writer(dir / "board");
    file = writer.path();
    writer.write(summary_event(3, {scalar_value("train_loss", 0.25), scalar_value("test_accuracy", 0.9875)}));
    writer.write(summary_event(7, {text_value("config", "hello")}));
    writer.flush();
  }
  // Walk the records by hand: every length and data CRC is the masked CRC-32C of its bytes.
  const std::string bytes = t::read_text(file);
  size_t at = 0;
  int records = 0;
  while (at < bytes.size()) {
    ASSERT_LE(at + 12, bytes.size());
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    EXPECT_EQ(u32_at(bytes, at + 8), mask_crc(crc32c(bytes.data() + at, 8)));
    ASSERT_LE(at + 12 + length + 4, bytes.size());
    EXPECT_EQ(u32_at(bytes, at + 12 + length), mask_crc(crc32c(bytes.data() + at + 12, length)));
    at += 12 + length + 4;
    ++records;
  }
  EXPECT_EQ(records, 3);

  const EventFileContents contents = read_event_file(file);
  EXPECT_EQ(contents.damage, "");
  ASSERT_EQ(contents.events.size(), 3u);
  const Event& first = contents.events[0];
  EXPECT_EQ(first.file_version(), "brain.Event:2");
  EXPECT_EQ(first.source_metadata().writer(), "train_gpu");
  EXPECT_GT(first.wall_time(), 1.6e9);  // seconds since 1970, not milliseconds or zero

  const Event& scalars = contents.events[1];
  EXPECT_EQ(scalars.step(), 3);
  ASSERT_EQ(scalars.summary().value_size(), 2);
  EXPECT_EQ(scalars.summary().value(0).tag(), "train_loss");
  EXPECT_EQ(scalars.summary().value(0).simple_value(), 0.25f);
  EXPECT_EQ(scalars.summary().value(1).tag(), "test_accuracy");
  EXPECT_EQ(scalars.summary().value(1).simple_value(), 0.9875f);
  EXPECT_GE(scalars.wall_time(), first.wall_time());

  const Event& text = contents.events[2];
  EXPECT_EQ(text.step(), 7);
  EXPECT_EQ(text.summary().value(0).tensor().string_val(0), "hello");
}

TEST(EventFile, IsNamedAsTensorFlowNamesThem) {
  EXPECT_EQ(event_file_name(1700000000, "node7", 4242), "events.out.tfevents.1700000000.node7.4242.0");
  EXPECT_EQ(event_file_name(5, "h", 1), "events.out.tfevents.0000000005.h.1.0");
  t::TempDir dir;
  EventFileWriter writer(dir.path());
  EXPECT_TRUE(std::regex_match(writer.path().filename().string(), std::regex(R"(events\.out\.tfevents\.\d{10}\.[^/]+\.\d+\.0)")))
      << writer.path();
}

TEST(EventFile, ANewFileSortsAfterTheOnesAlreadyThereEvenWithinOneSecond) {
  // TensorBoard reads a directory's files in name order; a resumed run's file must come last.
  t::TempDir dir;
  const long far_future = 4000000000;  // 2096: later than the clock, as two files of one second would be
  t::write_file(dir / event_file_name(far_future, "zzz", 99999), {});
  EventFileWriter writer(dir.path());
  const std::vector<fs::path> files = event_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files.back(), writer.path());
  EXPECT_EQ(writer.path().filename().string().rfind("events.out.tfevents.4000000001.", 0), 0u) << writer.path();
}

TEST(EventFile, ListsOnlyEventFilesAndNotTemporaries) {
  t::TempDir dir;
  t::write_file(dir / "events.out.tfevents.0000000002.h.1.0", {});
  t::write_file(dir / "events.out.tfevents.0000000001.h.1.0", {});
  t::write_file(dir / ".events.out.tfevents.0000000003.h.1.0.tmp-1-0", {});
  t::write_file(dir / "metrics.csv", {});
  const std::vector<fs::path> files = event_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), "events.out.tfevents.0000000001.h.1.0");
  EXPECT_TRUE(event_files(dir / "missing").empty());
}

TEST(EventFile, TellsOurNamesFromOthers) {
  EXPECT_TRUE(has_event_file_name(event_file_name(1700000000, "node7.example.org", 4242)));
  EXPECT_TRUE(has_event_file_name(event_file_name(5, "h", 1)));
  EXPECT_FALSE(has_event_file_name("notes-tfevents.txt"));
  EXPECT_FALSE(has_event_file_name("events.out.tfevents.1700000000.h.1.0.damaged"));
  EXPECT_FALSE(has_event_file_name("events.out.tfevents.1700000000.h.1.0.v2"));  // TensorFlow 2's writer
  EXPECT_FALSE(has_event_file_name("events.out.tfevents.170000.h.1.0"));
  EXPECT_FALSE(has_event_file_name("events.out.tf-events.1700000000.h.1.0"));
}

TEST(EventFile, ReadingSkipsARecordThatFailsItsCrcAndKeepsTheOnesAfterIt) {
  t::TempDir dir;
  fs::path file;
  {
    EventFileWriter writer(dir.path());
    file = writer.path();
    for (int64_t step = 1; step <= 3; ++step) writer.write(summary_event(step, {scalar_value("train_loss", 0.5)}));
  }
  std::string bytes = t::read_text(file);
  const std::size_t second = frame_record(read_event_file(file).events.at(0).SerializeAsString()).size() +
                             frame_record(summary_event(1, {scalar_value("train_loss", 0.5)}).SerializeAsString()).size();
  bytes[second + 12 + 3] ^= 0x20;  // step 2's data
  t::write_file(file, t::Bytes(bytes.begin(), bytes.end()));
  const EventFileContents contents = read_event_file(file);
  EXPECT_EQ(contents.damage, "record data that fails its CRC-32C at byte " + std::to_string(second));
  ASSERT_EQ(contents.events.size(), 3u);  // file_version, steps 1 and 3
  EXPECT_EQ(contents.events[1].step(), 1);
  EXPECT_EQ(contents.events[2].step(), 3);
  EXPECT_EQ(contents.writer, "train_gpu");
  EXPECT_TRUE(contents.written_by_us());
}

TEST(EventFile, AnUncreatableDirectoryIsAnErrorNamingIt) {
  t::TempDir dir;
  t::write_file(dir / "file", {});
  const std::string message = t::error_of([&] { EventFileWriter writer(dir / "file" / "board"); });
  t::expect_contains(message, "cannot create the TensorBoard directory");
}

}  // namespace
}  // namespace train_gpu::tensorboard
