// Editing a checkpoint's safetensors header in place, as a user or a tool might: the JSON read,
// changed and written back with the data section untouched, and the metadata signed again (or
// not) by README's metadata_crc32 recipe, computed here independently of the reader.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.h"

namespace train_gpu::testing {

inline uint64_t header_length_of(const Bytes& bytes) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[static_cast<std::size_t>(i)];
  return length;
}

inline nlohmann::json header_of(const Bytes& bytes) {
  const auto begin = bytes.begin() + 8;
  return nlohmann::json::parse(begin, begin + static_cast<std::ptrdiff_t>(header_length_of(bytes)));
}

// Replaces the header with `header` (padded as the writer pads), keeping the data section.
inline void replace_header(const std::filesystem::path& file, const nlohmann::json& header) {
  const Bytes bytes = read_file(file);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_length_of(bytes));
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  Bytes rewritten;
  for (int i = 0; i < 8; ++i) rewritten.push_back(static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i)));
  rewritten.insert(rewritten.end(), text.begin(), text.end());
  rewritten.insert(rewritten.end(), bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  write_file(file, rewritten);
}

// metadata_crc32 as README's recipe computes it: zlib.crc32 of key NUL value NUL per entry, in
// key order, itself left out.
inline std::string recipe_checksum(const nlohmann::json& metadata) {
  uLong crc = crc32_z(0, nullptr, 0);
  for (const auto& [key, value] : metadata.get<std::map<std::string, std::string>>()) {
    if (key == "metadata_crc32") continue;
    const std::string entry = key + std::string(1, '\0') + value + std::string(1, '\0');
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(entry.data()), entry.size());
  }
  char text[9];
  std::snprintf(text, sizeof text, "%08lx", crc);
  return text;
}

// The edit without signing again: what corruption or a careless edit leaves.
inline void edit_header_unsigned(const std::filesystem::path& file, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json header = header_of(read_file(file));
  edit(header);
  replace_header(file, header);
}

// Edits the header and signs the metadata again, as a tool that knows the recipe would: what the
// reader then refuses, it refuses for the field, not for the checksum.
inline void edit_header(const std::filesystem::path& file, const std::function<void(nlohmann::json&)>& edit) {
  edit_header_unsigned(file, [&](nlohmann::json& header) {
    edit(header);
    if (header.contains("__metadata__") && header["__metadata__"].contains("metadata_crc32")) {
      header["__metadata__"]["metadata_crc32"] = recipe_checksum(header["__metadata__"]);
    }
  });
}

}  // namespace train_gpu::testing
