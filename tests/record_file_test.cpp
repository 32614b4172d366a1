// TFRecord framing: byte-exact against TensorBoard's own Python RecordWriter, round trips, and
// the reader stopping at torn or corrupt records (what a killed writer leaves).
#include "host/tensorboard/record_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace train_gpu::tensorboard {
namespace {

std::string hex(const std::string& bytes) {
  std::string text;
  char pair[3];
  for (unsigned char c : bytes) {
    std::snprintf(pair, sizeof pair, "%02x", c);
    text += pair;
  }
  return text;
}

TEST(RecordFile, FramesExactlyAsTensorBoardsRecordWriter) {
  // From tensorboard.summary.writer.record_writer.RecordWriter (tensorboard 2.21) writing b"abc"
  // and b"": length, masked CRC of the length, data, masked CRC of the data.
  EXPECT_EQ(hex(frame_record("abc")), "0300000000000000b099490e6162636e57f121");
  EXPECT_EQ(hex(frame_record("")), "000000000000000029039807d8ea82a2");
}

TEST(RecordFile, ReadsBackWhatItFramed) {
  const std::string payloads[] = {"", "abc", std::string(1000, '\0'), std::string("\xff\x00\x01", 3)};
  std::string file;
  for (const std::string& payload : payloads) file += frame_record(payload);
  const RecordScan scan = read_records(file);
  EXPECT_EQ(scan.damage, "");
  EXPECT_EQ(scan.intact_bytes, file.size());
  ASSERT_EQ(scan.records.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(scan.records[i], payloads[i]);
}

TEST(RecordFile, StopsAtATornLastRecord) {
  const std::string good = frame_record("first") + frame_record("second");
  const std::string torn = frame_record("third, never finished");
  for (size_t cut = 1; cut < torn.size(); ++cut) {
    const RecordScan scan = read_records(good + torn.substr(0, cut));
    ASSERT_EQ(scan.records.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(scan.intact_bytes, good.size());
    EXPECT_NE(scan.damage.find("cut short at byte " + std::to_string(good.size())), std::string::npos) << scan.damage;
  }
}

TEST(RecordFile, StopsAtACorruptRecord) {
  const std::string first = frame_record("first");
  std::string second = frame_record("second");
  std::string bad_data = second;
  bad_data[14] ^= 0x01;  // a bit of the data
  RecordScan scan = read_records(first + bad_data + frame_record("third"));
  EXPECT_EQ(scan.records.size(), 1u);
  EXPECT_EQ(scan.intact_bytes, first.size());
  EXPECT_NE(scan.damage.find("data that fails its CRC-32C"), std::string::npos) << scan.damage;

  std::string bad_length = second;
  bad_length[0] ^= 0x01;  // the length, which its own CRC catches before it is trusted
  scan = read_records(first + bad_length);
  EXPECT_EQ(scan.records.size(), 1u);
  EXPECT_NE(scan.damage.find("length that fails its CRC-32C"), std::string::npos) << scan.damage;
}

TEST(RecordFile, SalvageSkipsARecordWhoseDataFailsItsCrcAndStopsWhereTheFramingIsLost) {
  const std::string first = frame_record("first");
  std::string bad_data = frame_record("second");
  bad_data[14] ^= 0x01;  // a bit of the data: its length passed its own CRC, so "third" is found
  RecordSalvage salvage = salvage_records(first + bad_data + frame_record("third"));
  EXPECT_EQ(salvage.records, (std::vector<std::string>{"first", "third"}));
  ASSERT_EQ(salvage.damage.size(), 1u);
  EXPECT_EQ(salvage.damage[0], "record data that fails its CRC-32C at byte " + std::to_string(first.size()));

  std::string bad_length = frame_record("second");
  bad_length[0] ^= 0x01;  // where the next record starts is unknown from here on
  salvage = salvage_records(first + bad_length + frame_record("third"));
  EXPECT_EQ(salvage.records, (std::vector<std::string>{"first"}));
  ASSERT_EQ(salvage.damage.size(), 1u);
  EXPECT_NE(salvage.damage[0].find("length that fails its CRC-32C"), std::string::npos) << salvage.damage[0];

  salvage = salvage_records(first + frame_record("second"));
  EXPECT_EQ(salvage.records.size(), 2u);
  EXPECT_TRUE(salvage.damage.empty());
}

}  // namespace
}  // namespace train_gpu::tensorboard
