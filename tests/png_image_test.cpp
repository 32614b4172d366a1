#include "host/eval/png_image.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "support/png_size.h"
#include "support/test_support.h"

namespace train_gpu::eval {
namespace {

namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

TEST(PngImage, GrayscaleRoundTripThroughLibpng) {
  t::TempDir dir;
  Image image(37, 11, 1);  // odd sizes: rows are not padded
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) *image.at(x, y) = static_cast<uint8_t>((x * 7 + y * 23) % 256);
  }
  const auto file = dir.path() / "gray.png";
  write_png(file, image);
  const t::PngSize size = t::png_size(file);
  ASSERT_TRUE(size.valid);
  EXPECT_EQ(size.width, 37u);
  EXPECT_EQ(size.height, 11u);
  const Image back = read_png(file);
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 11);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.pixels, image.pixels);  // lossless: bit-exact
}

TEST(PngImage, RgbRoundTripThroughLibpng) {
  t::TempDir dir;
  Image image(5, 4, 3, 0);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 13);
  const auto file = dir.path() / "rgb.png";
  write_png(file, image);
  const Image back = read_png(file);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, image.pixels);
  EXPECT_EQ(back.at(4, 3)[2], image.at(4, 3)[2]);
}

TEST(PngImage, EncodesInMemoryTheBytesWritePngWrites) {
  t::TempDir dir;
  Image image(9, 6, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 29);
  const std::string encoded = encode_png(image);
  ASSERT_GT(encoded.size(), 8u);
  EXPECT_EQ(encoded.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  write_png(dir.path() / "file.png", image);
  EXPECT_EQ(t::read_text(dir.path() / "file.png"), encoded);
  EXPECT_EQ(read_png(dir.path() / "file.png").pixels, image.pixels);
  EXPECT_THROW(encode_png(Image()), Error);
}

TEST(PngImage, ErrorsNameTheFile) {
  Image image(2, 2, 1);
  try {
    write_png("/nonexistent-dir/out.png", image);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/out.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_png("/tmp/never-written.png", Image()), Error);  // 0x0

  t::TempDir dir;
  const auto not_png = dir.path() / "not.png";
  std::ofstream(not_png) << "this is not a PNG file at all";
  try {
    read_png(not_png);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libpng"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_png(dir.path() / "missing.png"), Error);
}

TEST(PngImage, NormalizedGrayscaleMapsMinToZeroAndMaxTo255) {
  const std::vector<float> values = {-1.0f, 0.0f, 1.0f, 3.0f};
  const Image image = normalized_grayscale(values.data(), 2, 2);
  // (v + 1) / 4 * 255, rounded: 0, 63.75 -> 64, 127.5 -> 128, 255.
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 64, 128, 255}));
  const std::vector<float> dead(4, 0.0f);
  EXPECT_EQ(normalized_grayscale(dead.data(), 2, 2).pixels, std::vector<uint8_t>(4, 0));
}

TEST(PngImage, UpscaleAndRgb) {
  const std::vector<uint8_t> values = {10, 20, 30, 40};
  const Image big = upscale(grayscale(values.data(), 2, 2), 3);
  EXPECT_EQ(big.width, 6);
  EXPECT_EQ(big.height, 6);
  EXPECT_EQ(*big.at(0, 0), 10);
  EXPECT_EQ(*big.at(2, 2), 10);
  EXPECT_EQ(*big.at(3, 2), 20);
  EXPECT_EQ(*big.at(5, 5), 40);
  const Image rgb = to_rgb(big);
  EXPECT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.at(3, 4)[0], 40);
  EXPECT_EQ(rgb.at(3, 4)[2], 40);
  EXPECT_THROW(upscale(big, 0), Error);
}

TEST(PngImage, TileGridPlacesTilesWithPadding) {
  std::vector<Image> tiles;
  for (uint8_t v = 1; v <= 5; ++v) tiles.emplace_back(3, 2, 1, v);
  const Image grid = tile_grid(tiles, 2, 1, 0);  // 2 columns, 3 rows
  EXPECT_EQ(grid.width, 1 + 2 * (3 + 1));
  EXPECT_EQ(grid.height, 1 + 3 * (2 + 1));
  EXPECT_EQ(*grid.at(0, 0), 0);       // padding
  EXPECT_EQ(*grid.at(1, 1), 1);       // tile 0
  EXPECT_EQ(*grid.at(4, 1), 0);       // gap between columns
  EXPECT_EQ(*grid.at(5, 1), 2);       // tile 1
  EXPECT_EQ(*grid.at(7, 2), 2);
  EXPECT_EQ(*grid.at(1, 4), 3);       // tile 2, second row
  EXPECT_EQ(*grid.at(1, 7), 5);       // tile 4, third row
  EXPECT_EQ(*grid.at(5, 7), 0);       // no sixth tile
  EXPECT_THROW(tile_grid({Image(2, 2, 1), Image(3, 2, 1)}, 2, 1, 0), Error);
  EXPECT_THROW(tile_grid({}, 2, 1, 0), Error);
}

TEST(PngImage, DrawTextUsesTheThreeByFiveFont) {
  Image image(12, 7, 1, 0);
  draw_text(image, 1, 1, "1>", 1, Rgb{200, 0, 0});
  // '1' is 010 / 110 / 010 / 010 / 111 at x = 1..3, y = 1..5.
  const char* expected_one[5] = {".#.", "##.", ".#.", ".#.", "###"};
  for (int row = 0; row < 5; ++row) {
    for (int col = 0; col < 3; ++col) {
      EXPECT_EQ(*image.at(1 + col, 1 + row), expected_one[row][col] == '#' ? 200 : 0) << "row " << row << " col " << col;
    }
  }
  // '>' starts one column after the glyph and its gap: x = 5; its first row is 100.
  EXPECT_EQ(*image.at(5, 1), 200);
  EXPECT_EQ(*image.at(6, 1), 0);
  EXPECT_EQ(*image.at(4, 1), 0);  // the gap
  EXPECT_EQ(text_width("1>", 1), 7);
  EXPECT_EQ(text_width("99%", 3), (3 * 4 - 1) * 3);
  EXPECT_EQ(text_height(3), 15);

  Image rgb(20, 20, 3, 0);
  draw_text(rgb, 18, 18, "8", 2, Rgb{1, 2, 3});  // mostly clipped: must not write outside
  EXPECT_EQ(rgb.at(18, 18)[1], 2);
  EXPECT_THROW(draw_text(rgb, 0, 0, "x", 1, Rgb{}), Error);
}

}  // namespace
}  // namespace train_gpu::eval
