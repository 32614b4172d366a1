// CIFAR-10 binary batches for the tests, made record by record (so a test can break one byte),
// and a .tar.gz of named members written with libarchive, as the published archive is laid out.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace train_gpu::testing {

// The pixel of `record` (counted over the whole set) in `channel` at `index` (row * 32 + col):
// each plane its own pattern, so a reader that interleaves channels or swaps planes fails.
inline uint8_t cifar_pixel(int record, int channel, int index) {
  return static_cast<uint8_t>((record * 13 + channel * 101 + index * 7) % 256);
}

// `count` records numbered from `first_record`, labelled (first_record + r) % 10.
inline Bytes cifar_batch(int first_record, int count) {
  Bytes bytes;
  for (int r = first_record; r < first_record + count; ++r) {
    bytes.push_back(static_cast<uint8_t>(r % 10));
    for (int channel = 0; channel < 3; ++channel) {
      for (int index = 0; index < 1024; ++index) bytes.push_back(cifar_pixel(r, channel, index));
    }
  }
  return bytes;
}

// A gzipped ustar archive of `members` (path, bytes), through libarchive's writer.
inline Bytes tar_gz(const std::vector<std::pair<std::string, Bytes>>& members) {
  struct archive* archive = archive_write_new();
  archive_write_add_filter_gzip(archive);
  archive_write_set_format_ustar(archive);
  std::vector<unsigned char> buffer(1 << 24);
  size_t used = 0;
  if (archive_write_open_memory(archive, buffer.data(), buffer.size(), &used) != ARCHIVE_OK) {
    throw std::runtime_error("archive_write_open_memory failed");
  }
  for (const auto& [path, bytes] : members) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    if (archive_write_header(archive, entry) != ARCHIVE_OK ||
        archive_write_data(archive, bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size())) {
      throw std::runtime_error(std::string("libarchive: ") + archive_error_string(archive));
    }
    archive_entry_free(entry);
  }
  archive_write_close(archive);
  archive_write_free(archive);
  return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(used));
}

}  // namespace train_gpu::testing
