// TFRecord framing, the container of TensorBoard's events.out.tfevents.* files (TensorFlow's
// tensorflow/core/lib/io/record_writer.cc). Each record is
//   uint64 length | uint32 masked CRC-32C of those 8 bytes | length bytes of data | uint32 masked CRC-32C of the data
// all little-endian; see crc32c.h for the mask.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace train_gpu::tensorboard {

// The framed record of `data`: 16 bytes more than the data.
std::string frame_record(std::string_view data);

struct RecordScan {
  std::vector<std::string> records;  // the intact records, in order
  std::size_t intact_bytes = 0;      // bytes covered by them: where the first bad record starts
  std::string damage;                // empty when every byte was an intact record, else what was wrong
};

// Reads records from the start of `bytes` up to the first one that is cut short (a writer killed
// mid-record) or fails a CRC; that one and everything after it are left out and described in
// `damage`. TensorBoard's own reader also stops there, and shows nothing after it.
RecordScan read_records(std::string_view bytes);

struct RecordSalvage {
  std::vector<std::string> records;  // every record that could be read, in order
  std::vector<std::string> damage;   // each record skipped, or where reading stopped; empty when none
};

// Every record of `bytes` that can still be read: as read_records, except that a record whose
// data fails its CRC (its length passed its own, so the next record's start is known) is skipped
// rather than the end. Reading stops only where the framing is lost: a length that fails its CRC,
// or a record cut short.
RecordSalvage salvage_records(std::string_view bytes);

}  // namespace train_gpu::tensorboard
