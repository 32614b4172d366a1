#include "host/tensorboard/record_file.h"

#include <cstdint>

#include "host/tensorboard/crc32c.h"

namespace train_gpu::tensorboard {

namespace {

constexpr std::size_t kLengthBytes = 8;
constexpr std::size_t kCrcBytes = 4;

template <typename Unsigned>
void append_little_endian(std::string& out, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

template <typename Unsigned>
Unsigned little_endian_at(std::string_view bytes, std::size_t offset) {
  Unsigned value = 0;
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
    value |= static_cast<Unsigned>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

uint32_t masked_crc_of(std::string_view bytes) { return mask_crc(crc32c(bytes.data(), bytes.size())); }

}  // namespace

std::string frame_record(std::string_view data) {
  std::string framed;
  framed.reserve(data.size() + kLengthBytes + 2 * kCrcBytes);
  append_little_endian<uint64_t>(framed, data.size());
  append_little_endian<uint32_t>(framed, masked_crc_of(std::string_view(framed).substr(0, kLengthBytes)));
  framed.append(data);
  append_little_endian<uint32_t>(framed, masked_crc_of(data));
  return framed;
}

namespace {

// What is at byte `at` of `bytes`: an intact record, one whose data fails its CRC (skippable:
// `next` is known), or lost framing.
struct RecordAt {
  enum class Kind { kIntact, kBadData, kFramingLost } kind = Kind::kFramingLost;
  std::string_view data;
  std::size_t next = 0;
  std::string damage;
};

RecordAt record_at(std::string_view bytes, std::size_t at) {
  RecordAt record;
  const std::string where = " at byte " + std::to_string(at);
  if (bytes.size() - at < kLengthBytes + kCrcBytes) {
    record.damage = "a record header cut short" + where;
    return record;
  }
  const uint64_t length = little_endian_at<uint64_t>(bytes, at);
  if (little_endian_at<uint32_t>(bytes, at + kLengthBytes) != masked_crc_of(bytes.substr(at, kLengthBytes))) {
    record.damage = "a record length that fails its CRC-32C" + where;
    return record;
  }
  const std::size_t data_at = at + kLengthBytes + kCrcBytes;
  if (length > bytes.size() - data_at || bytes.size() - data_at - length < kCrcBytes) {
    record.damage = "a record of " + std::to_string(length) + " bytes cut short" + where;
    return record;
  }
  record.data = bytes.substr(data_at, length);
  record.next = data_at + length + kCrcBytes;
  if (little_endian_at<uint32_t>(bytes, data_at + length) != masked_crc_of(record.data)) {
    record.kind = RecordAt::Kind::kBadData;
    record.damage = "record data that fails its CRC-32C" + where;
    return record;
  }
  record.kind = RecordAt::Kind::kIntact;
  return record;
}

}  // namespace

RecordScan read_records(std::string_view bytes) {
  RecordScan scan;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const RecordAt record = record_at(bytes, at);
    if (record.kind != RecordAt::Kind::kIntact) {
      scan.damage = record.damage;
      break;
    }
    scan.records.emplace_back(record.data);
    at = record.next;
  }
  scan.intact_bytes = at;
  return scan;
}

RecordSalvage salvage_records(std::string_view bytes) {
  RecordSalvage salvage;
  for (std::size_t at = 0; at < bytes.size();) {
    const RecordAt record = record_at(bytes, at);
    if (record.kind == RecordAt::Kind::kIntact) salvage.records.emplace_back(record.data);
    if (record.kind != RecordAt::Kind::kIntact) salvage.damage.push_back(record.damage);
    if (record.kind == RecordAt::Kind::kFramingLost) break;
    at = record.next;
  }
  return salvage;
}

}  // namespace train_gpu::tensorboard
