// predict's PNG reader (host/predict/png_input.h): every PNG colour type and depth comes back as
// 8-bit RGBA with the right values and flags; damaged, foreign or huge files are one Error.
// Test pictures are written with libpng's simplified writer, which covers the formats our own
// writer (8-bit gray/RGB only) does not.
#include "host/predict/png_input.h"

#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/eval/png_image.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

// Writes `pixels` (format's channel count per pixel; uint16_t samples for LINEAR formats).
void write_with_libpng(const std::filesystem::path& file, int width, int height, png_uint_32 format, const void* pixels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = format;
  ASSERT_NE(png_image_write_to_file(&image, file.c_str(), 0, pixels, 0, nullptr), 0) << image.message;
}

TEST(PngInput, GrayAndRgbFromOurWriter) {
  t::TempDir dir;
  eval::Image gray(3, 2, 1);
  gray.pixels = {0, 50, 100, 150, 200, 255};
  eval::write_png(dir / "gray.png", gray);
  const RgbaPicture g = read_png_rgba(dir / "gray.png");
  EXPECT_EQ(g.width, 3);
  EXPECT_EQ(g.height, 2);
  EXPECT_FALSE(g.colour);
  EXPECT_FALSE(g.alpha);
  EXPECT_EQ(g.bits, 8);
  ASSERT_EQ(g.pixels.size(), 3u * 2 * 4);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(g.pixels[4 * i], gray.pixels[i]);
    EXPECT_EQ(g.pixels[4 * i + 1], gray.pixels[i]);
    EXPECT_EQ(g.pixels[4 * i + 2], gray.pixels[i]);
    EXPECT_EQ(g.pixels[4 * i + 3], 255);
  }

  eval::Image rgb(2, 1, 3);
  rgb.pixels = {10, 20, 30, 200, 100, 0};
  eval::write_png(dir / "rgb.png", rgb);
  const RgbaPicture c = read_png_rgba(dir / "rgb.png");
  EXPECT_TRUE(c.colour);
  EXPECT_FALSE(c.alpha);
  EXPECT_EQ(c.pixels, (std::vector<uint8_t>{10, 20, 30, 255, 200, 100, 0, 255}));
}

TEST(PngInput, AlphaAndSixteenBitAreConverted) {
  t::TempDir dir;
  const std::vector<uint8_t> gray_alpha = {255, 0, 0, 128, 90, 255};  // (value, alpha) x 3
  write_with_libpng(dir / "ga.png", 3, 1, PNG_FORMAT_GA, gray_alpha.data());
  const RgbaPicture ga = read_png_rgba(dir / "ga.png");
  EXPECT_FALSE(ga.colour);
  EXPECT_TRUE(ga.alpha);
  ASSERT_EQ(ga.pixels.size(), 12u);
  EXPECT_EQ(ga.pixels[3], 0);     // alpha kept as it is
  EXPECT_EQ(ga.pixels[7], 128);
  EXPECT_EQ(ga.pixels[8], 90);    // an opaque pixel's value unchanged
  EXPECT_EQ(ga.pixels[11], 255);

  // 16-bit linear gray: 0 and full scale map to 0 and 255 whatever the gamma conversion.
  const std::vector<uint16_t> deep = {0, 65535};
  write_with_libpng(dir / "deep.png", 2, 1, PNG_FORMAT_LINEAR_Y, deep.data());
  const RgbaPicture d = read_png_rgba(dir / "deep.png");
  EXPECT_EQ(d.bits, 16);
  EXPECT_EQ(d.pixels[0], 0);
  EXPECT_EQ(d.pixels[4], 255);
}

TEST(PngInput, NonPngDamagedAndHugeFilesAreErrors) {
  t::TempDir dir;
  t::write_file(dir / "text.png", t::Bytes{'h', 'e', 'l', 'l', 'o'});
  std::string message = t::error_of([&] { read_png_rgba(dir / "text.png"); });
  t::expect_contains(message, (dir / "text.png").string() + ": not a readable PNG");

  eval::Image image(40, 40, 3, 77);
  eval::write_png(dir / "whole.png", image);
  t::Bytes bytes = t::read_file(dir / "whole.png");
  bytes.resize(bytes.size() / 2);
  t::write_file(dir / "truncated.png", bytes);
  message = t::error_of([&] { read_png_rgba(dir / "truncated.png"); });
  t::expect_contains(message, "truncated.png");
  EXPECT_NE(message, "(no error)");

  // A header claiming 65,536 x 65,536 pixels: refused before decoding or allocating.
  bytes = t::read_file(dir / "whole.png");
  bytes[16] = 0, bytes[17] = 1, bytes[18] = 0, bytes[19] = 0;  // IHDR width, big-endian
  bytes[20] = 0, bytes[21] = 1, bytes[22] = 0, bytes[23] = 0;  // height
  const uint32_t crc = static_cast<uint32_t>(crc32(0, bytes.data() + 12, 17));  // IHDR's type and data
  for (int i = 0; i < 4; ++i) bytes[static_cast<size_t>(29 + i)] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  t::write_file(dir / "huge.png", bytes);
  t::expect_contains(t::error_of([&] { read_png_rgba(dir / "huge.png"); }),
                     "huge.png: 65536x65536 pixels; predict reads pictures of up to 67108864 pixels");

  t::expect_contains(t::error_of([&] { read_png_rgba(dir / "missing.png"); }), "missing.png");
}

}  // namespace
}  // namespace train_gpu::predict
