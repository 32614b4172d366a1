// JPEG files for the tests, written with libjpeg as a camera or an image editor would: 8-bit
// grayscale or RGB (YCbCr inside), 4:2:0 chroma subsampling for colour, the given quality.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "host/eval/png_image.h"

namespace train_gpu::testing {

// The bytes of `image` (1 or 3 channels) as a JPEG of `quality` (1..100). libjpeg's default
// error handler exits the process; a test's own well-formed images do not reach it.
inline std::vector<unsigned char> encode_jpeg(const eval::Image& image, int quality) {
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

inline void write_jpeg(const std::filesystem::path& file, const eval::Image& image, int quality) {
  const std::vector<unsigned char> bytes = encode_jpeg(image, quality);
  std::FILE* out = std::fopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr) << file;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), out), bytes.size()) << file;
  ASSERT_EQ(std::fclose(out), 0) << file;
}

}  // namespace train_gpu::testing
