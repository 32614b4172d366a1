// Any PNG a user hands to `predict` -- grayscale or colour, with or without alpha, palette,
// 1 to 16 bits, interlaced -- decoded to 8-bit RGBA through libpng's simplified API, which does
// every conversion (and catches libpng's errors itself, so no setjmp here). The writer and the
// strict 8-bit reader for our own pictures are in host/eval/png_image.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu::predict {

struct RgbaPicture {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 4): r, g, b, a
  bool colour = false;          // the file had colour channels (else grayscale)
  bool alpha = false;           // the file had an alpha channel or a transparent colour
  int bits = 8;                 // bits per channel in the file: 8, or 16 (converted to 8)
  std::string turned;           // how it was turned upright (a JPEG's Exif orientation); empty if not
};

// Largest picture read: 8,192 x 8,192 pixels (256 MB as RGBA). Beyond that a digit photo is
// implausible and a crafted header would make us allocate gigabytes.
constexpr int64_t kMaxPicturePixels = int64_t{8192} * 8192;

// Reads `file`; anything that is not a readable PNG, or one too large, is an Error naming the
// file and libpng's reason.
RgbaPicture read_png_rgba(const std::filesystem::path& file);

// The same for PNG bytes already read (the bytes must outlive the call only); errors are "NAME: ...".
RgbaPicture decode_png_rgba(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace train_gpu::predict
