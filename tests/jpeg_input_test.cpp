// predict's JPEG reader (host/predict/jpeg_input.h): grayscale and colour JPEGs come back as
// 8-bit RGBA close to what was written; damaged, truncated, foreign and huge files are one Error
// naming the file (libjpeg's error_exit must not end the process), and a FIFO is refused.
#include "host/predict/jpeg_input.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/eval/png_image.h"
#include "support/fifo_unblocker.h"
#include "support/jpeg_file.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

// Smooth content (a ramp), so that JPEG's loss stays small: at quality 95 a ramp comes back
// within a few levels (8x8 DCT blocks of a gradient quantize to little); 6 leaves room.
eval::Image ramp(int width, int height, int channels) {
  eval::Image image(width, height, channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) image.at(x, y)[c] = static_cast<uint8_t>(40 + 2 * x + y + 30 * c);
    }
  }
  return image;
}

TEST(JpegInput, GrayAndColourComeBackAsRgba) {
  t::TempDir dir;
  for (const int channels : {1, 3}) {
    const eval::Image image = ramp(48, 32, channels);
    const std::filesystem::path file = dir / ("ramp-" + std::to_string(channels) + ".jpg");
    t::write_jpeg(file, image, 95);
    const RgbaPicture picture = read_jpeg_rgba(file);
    ASSERT_EQ(picture.width, 48);
    ASSERT_EQ(picture.height, 32);
    EXPECT_EQ(picture.colour, channels == 3);
    EXPECT_FALSE(picture.alpha);
    EXPECT_EQ(picture.bits, 8);
    ASSERT_EQ(picture.pixels.size(), size_t{48} * 32 * 4);
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 48; ++x) {
        const uint8_t* got = picture.pixels.data() + (static_cast<size_t>(y) * 48 + x) * 4;
        for (int c = 0; c < 3; ++c) {
          const int expected = image.at(x, y)[channels == 3 ? c : 0];
          ASSERT_NEAR(got[c], expected, 6) << "channels " << channels << " at (" << x << "," << y << ") channel " << c;
        }
        ASSERT_EQ(got[3], 255);
      }
    }
  }
}

// The SOF0 segment's height and width (big-endian, 3 and 5 bytes after its length).
void set_frame_size(t::Bytes& bytes, int width, int height) {
  for (size_t i = 2; i + 9 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) {
      bytes[i + 5] = static_cast<uint8_t>(height >> 8), bytes[i + 6] = static_cast<uint8_t>(height);
      bytes[i + 7] = static_cast<uint8_t>(width >> 8), bytes[i + 8] = static_cast<uint8_t>(width);
      return;
    }
  }
  ADD_FAILURE() << "no SOF0 marker";
}

TEST(JpegInput, DamagedTruncatedAndHugeFilesAreOneErrorEach) {
  t::TempDir dir;
  const t::Bytes whole = t::encode_jpeg(ramp(64, 64, 3), 90);

  t::Bytes bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2));
  t::write_file(dir / "truncated.jpg", bytes);
  std::string message = t::error_of([&] { read_jpeg_rgba(dir / "truncated.jpg"); });
  EXPECT_EQ(message, (dir / "truncated.jpg").string() + ": not a readable JPEG (libjpeg: Premature end of JPEG file)");

  // The start of a JPEG and then noise: libjpeg fails on the first segment it cannot parse.
  bytes = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x13, 0x37, 0xFF, 0xC0, 0x00, 0x03, 0x42};
  t::write_file(dir / "garbage.jpg", bytes);
  message = t::error_of([&] { read_jpeg_rgba(dir / "garbage.jpg"); });
  t::expect_contains(message, (dir / "garbage.jpg").string() + ": not a readable JPEG (libjpeg: ");
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  t::write_file(dir / "text.jpg", t::Bytes{'h', 'e', 'l', 'l', 'o'});
  t::expect_contains(t::error_of([&] { read_jpeg_rgba(dir / "text.jpg"); }),
                     (dir / "text.jpg").string() + ": not a readable JPEG (libjpeg: Not a JPEG file");

  // A frame header claiming 20,000 x 20,000 pixels (under libjpeg's own 65,500 limit): refused
  // before decoding or allocating.
  bytes = whole;
  set_frame_size(bytes, 20000, 20000);
  t::write_file(dir / "huge.jpg", bytes);
  EXPECT_EQ(t::error_of([&] { read_jpeg_rgba(dir / "huge.jpg"); }),
            (dir / "huge.jpg").string() + ": 20000x20000 pixels; predict reads pictures of up to 67108864 pixels");

  t::expect_contains(t::error_of([&] { read_jpeg_rgba(dir / "missing.jpg"); }), "missing.jpg: cannot open");
  ASSERT_EQ(mkfifo((dir / "pipe.jpg").c_str(), 0600), 0);
  {
    // A reader that regressed to a blocking open would hang the suite: this opens the FIFO's
    // other end after the grace, so such a regression fails here instead.
    t::FifoUnblocker unblocker(dir / "pipe.jpg", std::chrono::seconds(20));
    t::expect_contains(t::error_of([&] { read_jpeg_rgba(dir / "pipe.jpg"); }), "pipe.jpg: is a FIFO");
    EXPECT_FALSE(unblocker.fired()) << "read_jpeg_rgba blocked on a FIFO";
  }
}

}  // namespace
}  // namespace train_gpu::predict
