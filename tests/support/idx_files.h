// Test helpers for the data layer: IDX byte strings built field by field (so a test can break
// exactly one field) and gzip compression. The general helpers (TempDir, read_file/write_file,
// run_command, ...) come with it from test_support.h.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>

#include "support/test_support.h"

namespace train_gpu::testing {

inline void append_u32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX header: magic, then one big-endian size per entry of `sizes`.
inline Bytes idx_header(uint32_t magic, std::initializer_list<uint32_t> sizes) {
  Bytes bytes;
  append_u32(bytes, magic);
  for (uint32_t size : sizes) append_u32(bytes, size);
  return bytes;
}

// `count` images of rows x cols whose pixel i (over the whole payload) is i % 251.
inline Bytes idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
  Bytes bytes = idx_header(0x00000803, {count, rows, cols});
  const uint64_t payload = uint64_t{count} * rows * cols;
  for (uint64_t i = 0; i < payload; ++i) bytes.push_back(static_cast<uint8_t>(i % 251));
  return bytes;
}

inline Bytes idx_labels(const Bytes& labels) {
  Bytes bytes = idx_header(0x00000801, {static_cast<uint32_t>(labels.size())});
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

// Labels 0, 1, ..., 9, 0, 1, ... (count of them).
inline Bytes cycling_labels(uint32_t count) {
  Bytes labels;
  for (uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  return labels;
}

// One gzip member (zlib's deflate with a gzip wrapper: windowBits 16 + 15).
inline Bytes gzip(const Bytes& data) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  Bytes out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

// Whole-file gunzip for test fixtures (real files are small enough to hold).
inline Bytes gunzip(const Bytes& data) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + 15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  Bytes out;
  Bytes chunk(1 << 20);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = chunk.data();
    stream.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("inflate failed");
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() - stream.avail_out));
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace train_gpu::testing
