// A PNG's width and height read from its IHDR chunk, for tests that check the size of a written
// image without decoding it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace train_gpu::testing {

struct PngSize {
  uint32_t width = 0;
  uint32_t height = 0;
  bool valid = false;  // PNG signature and IHDR found
};

// Width and height from the IHDR chunk, which the PNG spec puts first, at bytes 16..23. A missing
// or unreadable file is not valid (no exception, so a test can report each file it checks).
inline PngSize png_size(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
  PngSize size;
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0) return size;
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
  };
  size.width = be32(16);
  size.height = be32(20);
  size.valid = true;
  return size;
}

}  // namespace train_gpu::testing
