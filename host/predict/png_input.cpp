#include "host/predict/png_input.h"

#include <png.h>

#include <cstring>

#include "host/common/error.h"
#include "host/common/regular_file.h"

namespace train_gpu::predict {

namespace {

// png_image_free on every path out, including the Errors thrown between begin and finish.
class SimplifiedRead {
 public:
  SimplifiedRead() {
    std::memset(&image_, 0, sizeof image_);
    image_.version = PNG_IMAGE_VERSION;
  }
  ~SimplifiedRead() { png_image_free(&image_); }
  SimplifiedRead(const SimplifiedRead&) = delete;
  SimplifiedRead& operator=(const SimplifiedRead&) = delete;
  png_image& image() { return image_; }

 private:
  png_image image_;
};

}  // namespace

RgbaPicture read_png_rgba(const std::filesystem::path& file) {
  // Read through open_regular_file, not libpng's fopen, so that a FIFO is refused, not waited on.
  return decode_png_rgba(read_regular_file(file, "a PNG picture"), file.string());
}

RgbaPicture decode_png_rgba(const std::vector<uint8_t>& bytes, const std::string& name) {
  SimplifiedRead read;
  png_image& image = read.image();
  if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) {
    throw Error(name + ": not a readable PNG (libpng: " + image.message + ")");
  }
  if (image.width == 0 || image.height == 0 || int64_t{image.width} * int64_t{image.height} > kMaxPicturePixels) {
    throw Error(name + ": " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                " pixels; predict reads pictures of up to " + std::to_string(kMaxPicturePixels) + " pixels");
  }
  RgbaPicture picture;
  picture.width = static_cast<int>(image.width);
  picture.height = static_cast<int>(image.height);
  picture.colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  picture.alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  picture.bits = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0 ? 16 : 8;

  image.format = PNG_FORMAT_RGBA;
  picture.pixels.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, picture.pixels.data(), 0, nullptr) == 0) {
    throw Error(name + ": damaged PNG (libpng: " + image.message + ")");
  }
  return picture;
}

}  // namespace train_gpu::predict
