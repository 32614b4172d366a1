#include "host/eval/png_image.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "host/common/error.h"

namespace train_gpu::eval {

Image::Image(int image_width, int image_height, int image_channels, uint8_t fill)
    : width(image_width), height(image_height), channels(image_channels) {
  if (image_width < 0 || image_height < 0 || (image_channels != 1 && image_channels != 3)) {
    throw Error("image: invalid size " + std::to_string(image_width) + "x" + std::to_string(image_height) + "x" +
                std::to_string(image_channels) + " (channels must be 1 or 3)");
  }
  pixels.assign(static_cast<size_t>(image_width) * static_cast<size_t>(image_height) * static_cast<size_t>(image_channels), fill);
}

namespace {

// libpng reports errors through a callback that must not return. Throwing a C++ exception
// through libpng's C frames is not safe (they may lack unwind tables), so the callback records
// the message and longjmps back to the setjmp in png_write_rows/png_read_rows, which contain no
// objects with destructors; the caller turns the failure into an Error.
struct PngErrorState {
  char message[256] = "unknown libpng error";
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // warnings (e.g. a CRC we accept) are not failures

struct FileCloser {
  void operator()(std::FILE* file) const noexcept {
    if (file) std::fclose(file);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Owns a png_struct and its png_info for writing; destroyed by libpng's own destructor call.
class PngWriteStruct {
 public:
  explicit PngWriteStruct(PngErrorState& errors)
      : png_(png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, on_png_error, on_png_warning)) {
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngWriteStruct() { png_destroy_write_struct(png_ ? &png_ : nullptr, info_ ? &info_ : nullptr); }
  PngWriteStruct(const PngWriteStruct&) = delete;
  PngWriteStruct& operator=(const PngWriteStruct&) = delete;
  bool ok() const { return png_ && info_; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

class PngReadStruct {
 public:
  explicit PngReadStruct(PngErrorState& errors)
      : png_(png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, on_png_error, on_png_warning)) {
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngReadStruct() { png_destroy_read_struct(png_ ? &png_ : nullptr, info_ ? &info_ : nullptr, nullptr); }
  PngReadStruct(const PngReadStruct&) = delete;
  PngReadStruct& operator=(const PngReadStruct&) = delete;
  bool ok() const { return png_ && info_; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// libpng's write callback: appends to the std::string behind png_get_io_ptr. An allocation
// failure must not unwind through libpng's C frames, so it becomes a libpng error.
void append_png_bytes(png_structp png, png_bytep data, png_size_t length) {
  try {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
  } catch (...) {
    png_error(png, "out of memory while encoding");
  }
}
void flush_nothing(png_structp) {}

// Only trivially destructible locals here: a longjmp from libpng lands in this frame.
bool png_write_rows(png_structp png, png_infop info, std::string* out, const Image& image, png_bytep* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, append_png_bytes, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               image.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct PngHeader {
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
};

bool png_read_header(png_structp png, png_infop info, std::FILE* file, PngHeader* header) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, file);
  png_read_info(png, info);
  header->width = png_get_image_width(png, info);
  header->height = png_get_image_height(png, info);
  header->bit_depth = png_get_bit_depth(png, info);
  header->color_type = png_get_color_type(png, info);
  return true;
}

bool png_read_rows(png_structp png, png_infop info, png_bytep* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

}  // namespace

std::string encode_png(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * static_cast<size_t>(image.channels)) {
    throw Error("cannot encode a " + std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                std::to_string(image.channels) + " image with " + std::to_string(image.pixels.size()) + " bytes as PNG");
  }
  PngErrorState errors;
  PngWriteStruct png(errors);
  if (!png.ok()) throw Error("libpng could not allocate its write structures");
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) rows[static_cast<size_t>(y)] = const_cast<png_bytep>(image.at(0, y));
  std::string encoded;
  if (!png_write_rows(png.png(), png.info(), &encoded, image, rows.data())) throw Error(std::string("libpng: ") + errors.message);
  return encoded;
}

void write_png(const std::filesystem::path& file, const Image& image) {
  std::string encoded;
  try {
    encoded = encode_png(image);
  } catch (const Error& e) {
    throw Error(file.string() + ": " + e.what());
  }
  FilePtr out(std::fopen(file.c_str(), "wb"));
  if (!out) throw Error(file.string() + ": cannot create: " + std::strerror(errno));
  // A full disk shows up when the buffered bytes are flushed.
  if (std::fwrite(encoded.data(), 1, encoded.size(), out.get()) != encoded.size() || std::fflush(out.get()) != 0 ||
      std::ferror(out.get())) {
    throw Error(file.string() + ": write failed: " + std::strerror(errno));
  }
  if (std::fclose(out.release()) != 0) throw Error(file.string() + ": write failed: " + std::strerror(errno));
}

Image read_png(const std::filesystem::path& file) {
  FilePtr in(std::fopen(file.c_str(), "rb"));
  if (!in) throw Error(file.string() + ": cannot open: " + std::strerror(errno));
  PngErrorState errors;
  PngReadStruct png(errors);
  if (!png.ok()) throw Error(file.string() + ": libpng could not allocate its read structures");
  PngHeader header;
  if (!png_read_header(png.png(), png.info(), in.get(), &header)) throw Error(file.string() + ": libpng: " + errors.message);
  if (header.bit_depth != 8 || (header.color_type != PNG_COLOR_TYPE_GRAY && header.color_type != PNG_COLOR_TYPE_RGB)) {
    throw Error(file.string() + ": expected an 8-bit grayscale or RGB PNG, found bit depth " + std::to_string(header.bit_depth) +
                ", color type " + std::to_string(header.color_type));
  }
  Image image(static_cast<int>(header.width), static_cast<int>(header.height), header.color_type == PNG_COLOR_TYPE_RGB ? 3 : 1);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) rows[static_cast<size_t>(y)] = image.at(0, y);
  if (!png_read_rows(png.png(), png.info(), rows.data())) throw Error(file.string() + ": libpng: " + errors.message);
  return image;
}

Image normalized_grayscale(const float* values, int width, int height) {
  Image image(width, height, 1);
  const size_t count = image.pixels.size();
  if (count == 0) return image;
  const auto [low, high] = std::minmax_element(values, values + count);
  const float range = *high - *low;
  if (!(range > 0)) return image;  // constant (or NaN): black
  for (size_t i = 0; i < count; ++i) {
    const float scaled = (values[i] - *low) / range * 255.0f + 0.5f;
    image.pixels[i] = static_cast<uint8_t>(std::clamp(scaled, 0.0f, 255.0f));
  }
  return image;
}

Image grayscale(const uint8_t* values, int width, int height) {
  Image image(width, height, 1);
  std::copy(values, values + image.pixels.size(), image.pixels.begin());
  return image;
}

Image upscale(const Image& image, int factor) {
  if (factor < 1) throw Error("upscale: factor must be at least 1, got " + std::to_string(factor));
  Image out(image.width * factor, image.height * factor, image.channels);
  const size_t channels = static_cast<size_t>(image.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) std::memcpy(out.at(x, y), image.at(x / factor, y / factor), channels);
  }
  return out;
}

Image to_rgb(const Image& image) {
  if (image.channels == 3) return image;
  Image out(image.width, image.height, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = image.pixels[i];
  }
  return out;
}

Image tile_grid(const std::vector<Image>& tiles, int columns, int padding, uint8_t background) {
  if (tiles.empty()) throw Error("tile grid: no tiles");
  if (columns < 1 || padding < 0) throw Error("tile grid: need columns >= 1 and padding >= 0");
  const Image& first = tiles.front();
  for (const Image& tile : tiles) {
    if (tile.width != first.width || tile.height != first.height || tile.channels != first.channels) {
      throw Error("tile grid: tiles differ in size or channels");
    }
  }
  const int count = static_cast<int>(tiles.size());
  const int used_columns = std::min(columns, count);
  const int rows = (count + columns - 1) / columns;
  Image grid(padding + used_columns * (first.width + padding), padding + rows * (first.height + padding), first.channels,
             background);
  const size_t row_bytes = static_cast<size_t>(first.width) * static_cast<size_t>(first.channels);
  for (int i = 0; i < count; ++i) {
    const int left = padding + (i % columns) * (first.width + padding);
    const int top = padding + (i / columns) * (first.height + padding);
    for (int y = 0; y < first.height; ++y) std::memcpy(grid.at(left, top + y), tiles[static_cast<size_t>(i)].at(0, y), row_bytes);
  }
  return grid;
}

namespace {

constexpr int kGlyphWidth = 3;
constexpr int kGlyphHeight = 5;

// Five rows of three bits each, most significant bit leftmost.
struct Glyph {
  char character;
  uint8_t rows[kGlyphHeight];
};

constexpr Glyph kFont[] = {
    {'0', {0b111, 0b101, 0b101, 0b101, 0b111}}, {'1', {0b010, 0b110, 0b010, 0b010, 0b111}},
    {'2', {0b111, 0b001, 0b111, 0b100, 0b111}}, {'3', {0b111, 0b001, 0b111, 0b001, 0b111}},
    {'4', {0b101, 0b101, 0b111, 0b001, 0b001}}, {'5', {0b111, 0b100, 0b111, 0b001, 0b111}},
    {'6', {0b111, 0b100, 0b111, 0b101, 0b111}}, {'7', {0b111, 0b001, 0b001, 0b010, 0b010}},
    {'8', {0b111, 0b101, 0b111, 0b101, 0b111}}, {'9', {0b111, 0b101, 0b111, 0b001, 0b111}},
    {' ', {0b000, 0b000, 0b000, 0b000, 0b000}}, {'.', {0b000, 0b000, 0b000, 0b000, 0b010}},
    {'%', {0b101, 0b001, 0b010, 0b100, 0b101}}, {'-', {0b000, 0b000, 0b111, 0b000, 0b000}},
    {'>', {0b100, 0b010, 0b001, 0b010, 0b100}}, {':', {0b000, 0b010, 0b000, 0b010, 0b000}},
    {'/', {0b001, 0b001, 0b010, 0b100, 0b100}}, {'(', {0b010, 0b100, 0b100, 0b100, 0b010}},
    {')', {0b010, 0b001, 0b001, 0b001, 0b010}}, {'T', {0b111, 0b010, 0b010, 0b010, 0b010}},
    {'P', {0b110, 0b101, 0b110, 0b100, 0b100}}, {'E', {0b111, 0b100, 0b110, 0b100, 0b111}},
    {'O', {0b010, 0b101, 0b101, 0b101, 0b010}}, {'C', {0b011, 0b100, 0b100, 0b100, 0b011}},
    {'H', {0b101, 0b101, 0b111, 0b101, 0b101}}, {'S', {0b011, 0b100, 0b010, 0b001, 0b110}},
};

const Glyph& glyph(char c) {
  for (const Glyph& g : kFont) {
    if (g.character == c) return g;
  }
  throw Error(std::string("draw_text: no glyph for '") + c + "' in the built-in 3x5 font");
}

}  // namespace

int text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * (kGlyphWidth + 1) - 1) * scale;
}

int text_height(int scale) { return kGlyphHeight * scale; }

void draw_text(Image& image, int x, int y, const std::string& text, int scale, Rgb color) {
  const uint8_t rgb[3] = {color.r, color.g, color.b};
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph(text[i]);
    const int left = x + static_cast<int>(i) * (kGlyphWidth + 1) * scale;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!((g.rows[row] >> (kGlyphWidth - 1 - col)) & 1)) continue;
        for (int dy = 0; dy < scale; ++dy) {
          for (int dx = 0; dx < scale; ++dx) {
            const int px = left + col * scale + dx;
            const int py = y + row * scale + dy;
            if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
            std::memcpy(image.at(px, py), rgb, static_cast<size_t>(image.channels));
          }
        }
      }
    }
  }
}

Image with_caption(const Image& image, const std::string& caption, Rgb color, uint8_t background) {
  if (caption.empty()) return image;
  if (image.channels != 3) throw Error("with_caption: expected an RGB image, got " + std::to_string(image.channels) + " channels");
  constexpr int kPadding = 6;
  // Half size rather than clipped when a small picture (a 2-class matrix) is narrower than the text.
  const int scale = text_width(caption, 2) + 2 * kPadding <= image.width ? 2 : 1;
  Image captioned(image.width, image.height + text_height(scale) + 2 * kPadding, 3, background);
  std::copy(image.pixels.begin(), image.pixels.end(), captioned.pixels.begin());
  draw_text(captioned, kPadding, image.height + kPadding, caption, scale, color);
  return captioned;
}

}  // namespace train_gpu::eval
