// JPEG files for the tests, written with libjpeg as a camera or an image editor would: 8-bit
// grayscale or RGB (YCbCr inside), 4:2:0 chroma subsampling for colour, the given quality, and
// Exif data with an orientation as phones write it.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "host/eval/png_image.h"

namespace train_gpu::testing {

// The bytes of `image` (1 or 3 channels) as a JPEG of `quality` (1..100), with an APP1 segment
// holding `app1` when it is not empty (Exif data). libjpeg's default error handler exits the
// process; a test's own well-formed images do not reach it.
inline std::vector<unsigned char> encode_jpeg(const eval::Image& image, int quality,
                                              const std::vector<unsigned char>& app1 = {}) {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = image.channels;
  info.in_color_space = image.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  if (!app1.empty()) jpeg_write_marker(&info, JPEG_APP0 + 1, app1.data(), static_cast<unsigned int>(app1.size()));
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(image.at(0, static_cast<int>(info.next_scanline)));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::vector<unsigned char> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

inline void write_jpeg(const std::filesystem::path& file, const eval::Image& image, int quality,
                       const std::vector<unsigned char>& app1 = {}) {
  const std::vector<unsigned char> bytes = encode_jpeg(image, quality, app1);
  std::FILE* out = std::fopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr) << file;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), out), bytes.size()) << file;
  ASSERT_EQ(std::fclose(out), 0) << file;
}

// An APP1 Exif payload whose first directory holds one entry, Orientation = `orientation`, in
// the byte order phones use (Intel, "II") or the other (Motorola, "MM").
inline std::vector<unsigned char> exif_with_orientation(uint16_t orientation, bool little_endian = true) {
  const auto u16 = [&](uint16_t v) {
    return little_endian ? std::vector<unsigned char>{static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8)}
                         : std::vector<unsigned char>{static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  };
  std::vector<unsigned char> payload = {'E', 'x', 'i', 'f', 0, 0};
  const auto append = [&](const std::vector<unsigned char>& bytes) { payload.insert(payload.end(), bytes.begin(), bytes.end()); };
  append(little_endian ? std::vector<unsigned char>{'I', 'I'} : std::vector<unsigned char>{'M', 'M'});
  append(u16(42));
  append(little_endian ? std::vector<unsigned char>{8, 0, 0, 0} : std::vector<unsigned char>{0, 0, 0, 8});  // directory at 8
  append(u16(1));                                                     // one entry
  append(u16(0x0112));                                                // Orientation
  append(u16(3));                                                     // SHORT
  append(little_endian ? std::vector<unsigned char>{1, 0, 0, 0} : std::vector<unsigned char>{0, 0, 0, 1});  // count 1
  append(u16(orientation));
  append(u16(0));                                                     // value field's padding
  append({0, 0, 0, 0});                                               // no next directory
  return payload;
}

}  // namespace train_gpu::testing
