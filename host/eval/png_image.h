// 8-bit PNG pictures without a plotting library: an image type, a libpng writer and reader, and
// the few drawing helpers the evaluation's pictures need -- per-map normalization, nearest-
// neighbour upscaling, a grid of tiles, and labels in a built-in 3x5 pixel font (digits and a
// handful of symbols), so no font library is needed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu::eval {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// Row-major, channels interleaved: 1 channel is grayscale, 3 is RGB.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;  // (height, width, channels)

  Image() = default;
  Image(int image_width, int image_height, int image_channels, uint8_t fill = 0);

  uint8_t* at(int x, int y) {
    return pixels.data() + (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * static_cast<size_t>(channels);
  }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * static_cast<size_t>(channels);
  }
};

// An 8-bit grayscale (1 channel) or RGB (3 channel) image as the bytes of a PNG file. An image of
// no pixels or inconsistent size, or a libpng failure, is an Error.
std::string encode_png(const Image& image);

// Writes an 8-bit grayscale (1 channel) or RGB (3 channel) PNG. Errors (the file cannot be
// created, libpng fails, the disk is full) are Errors naming the file.
void write_png(const std::filesystem::path& file, const Image& image);

// Reads an 8-bit grayscale or RGB PNG (what write_png writes); anything else is an Error.
Image read_png(const std::filesystem::path& file);

// A grayscale image of `values` (height, width) scaled linearly so min -> 0 and max -> 255
// (a constant map, e.g. a dead ReLU channel, is all 0).
Image normalized_grayscale(const float* values, int width, int height);

// A grayscale image of uint8 values as they are.
Image grayscale(const uint8_t* values, int width, int height);

// Each pixel becomes a factor x factor block.
Image upscale(const Image& image, int factor);

// The same image with 3 channels (gray copied to r, g, b); an RGB image is returned unchanged.
Image to_rgb(const Image& image);

// Tiles (all the same size and channel count) in rows of `columns`, left to right then top to
// bottom, with `padding` pixels of `background` around and between them.
Image tile_grid(const std::vector<Image>& tiles, int columns, int padding, uint8_t background);

// Text in the built-in 3x5 font, each font pixel a scale x scale block, glyphs 1 font pixel
// apart; (x, y) is the top-left corner. Characters: 0-9 and space . % - > : / ( ) and the
// letters T P E O C H S (enough for "T>P" and "EPOCH 3 STEP 20"). Others are an Error. Pixels
// outside the image are clipped. Grayscale images get the color's red component.
void draw_text(Image& image, int x, int y, const std::string& text, int scale, Rgb color);
// Width and height in pixels that draw_text covers.
int text_width(const std::string& text, int scale);
int text_height(int scale);

// `image` (RGB) with a strip of `background` below it holding `caption` at scale 2, left-aligned,
// 6 pixels of padding around the text; the image unchanged when the caption is empty.
Image with_caption(const Image& image, const std::string& caption, Rgb color, uint8_t background);

}  // namespace train_gpu::eval
