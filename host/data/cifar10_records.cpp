#include "host/data/cifar10_records.h"

#include "host/common/error.h"
#include "host/common/utf8.h"

namespace train_gpu {

namespace {

// One line of a names file, shown in an error: at most 40 bytes, as the reader saw them.
std::string shown(const std::string& line) { return line.size() > 40 ? line.substr(0, 40) + "..." : line; }

}  // namespace

ImageSet cifar10_image_set() {
  ImageSet set;
  set.channels = kCifar10Channels;
  set.rows = kCifar10Side;
  set.cols = kCifar10Side;
  set.classes = kCifar10Classes;
  return set;
}

void append_cifar10_records(const uint8_t* bytes, std::size_t size, const std::string& name, ImageSet& set) {
  if (size == 0) throw Error(name + ": empty file (0 bytes); a CIFAR-10 batch holds records of 3073 bytes");
  if (size % kCifar10RecordBytes != 0) {
    throw Error(name + ": " + std::to_string(size) + " bytes is not a whole number of 3073-byte CIFAR-10 records (" +
                std::to_string(size / kCifar10RecordBytes) + " records and " + std::to_string(size % kCifar10RecordBytes) +
                " bytes over): the file is truncated or not a CIFAR-10 binary batch");
  }
  const std::size_t records = size / kCifar10RecordBytes;
  const std::size_t image_bytes = kCifar10RecordBytes - 1;
  for (std::size_t r = 0; r < records; ++r) {
    const uint8_t label = bytes[r * kCifar10RecordBytes];
    if (label >= kCifar10Classes) {
      throw Error(name + ": record " + std::to_string(r) + " (byte " + std::to_string(r * kCifar10RecordBytes) +
                  ") has label " + std::to_string(label) + "; CIFAR-10 labels are 0..9 (is it a CIFAR-100 file?)");
    }
  }
  set.pixels.reserve(set.pixels.size() + records * image_bytes);
  set.labels.reserve(set.labels.size() + records);
  for (std::size_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes + r * kCifar10RecordBytes;
    set.labels.push_back(record[0]);
    set.pixels.insert(set.pixels.end(), record + 1, record + kCifar10RecordBytes);
  }
  set.count += static_cast<int64_t>(records);
}

std::vector<std::string> parse_cifar10_class_names(const std::string& text, const std::string& name) {
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    lines.push_back(line);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  const std::string expected = "; expected the ten class names, one per line";
  if (lines.size() != static_cast<std::size_t>(kCifar10Classes)) {
    throw Error(name + ": " + std::to_string(lines.size()) + " lines" + expected);
  }
  for (std::size_t c = 0; c < lines.size(); ++c) {
    if (lines[c].empty()) throw Error(name + ": line " + std::to_string(c + 1) + " is empty" + expected);
    if (!is_valid_utf8(lines[c])) throw Error(name + ": line " + std::to_string(c + 1) + " is not UTF-8 text" + expected);
    if (lines[c].size() > 100) {
      throw Error(name + ": line " + std::to_string(c + 1) + " ('" + shown(lines[c]) + "') is over 100 bytes" + expected);
    }
  }
  return lines;
}

}  // namespace train_gpu
