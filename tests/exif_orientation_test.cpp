// Phone photos turned upright (host/predict/exif_orientation.h): the Orientation tag read in
// both byte orders and ignored when absent, odd or cut short; each of the 8 orientations moves a
// hand-placed pixel where TIFF 6.0 says; and a JPEG stored on its side comes back upright.
#include "host/predict/exif_orientation.h"

#include <gtest/gtest.h>

#include <vector>

#include "host/predict/jpeg_input.h"
#include "support/jpeg_file.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

TEST(ExifOrientation, ReadFromEitherByteOrderElseAsStored) {
  for (const bool little : {true, false}) {
    for (uint16_t value = 1; value <= 8; ++value) {
      const std::vector<unsigned char> payload = t::exif_with_orientation(value, little);
      EXPECT_EQ(exif_orientation(payload.data(), payload.size()), value) << (little ? "II " : "MM ") << value;
    }
  }
  std::vector<unsigned char> payload = t::exif_with_orientation(9);
  EXPECT_EQ(exif_orientation(payload.data(), payload.size()), 1) << "no such orientation";
  payload = t::exif_with_orientation(6);
  for (size_t cut = 0; cut < 26; ++cut) EXPECT_EQ(exif_orientation(payload.data(), cut), 1) << "cut to " << cut;
  payload[6 + 10] = 0x13;  // another tag
  EXPECT_EQ(exif_orientation(payload.data(), payload.size()), 1);
  payload = t::exif_with_orientation(6);
  payload[6 + 4] = 0xF0;  // the directory's offset points far past the end
  EXPECT_EQ(exif_orientation(payload.data(), payload.size()), 1);
  const unsigned char xmp[] = "http://ns.adobe.com/xap/1.0/";
  EXPECT_EQ(exif_orientation(xmp, sizeof xmp), 1) << "another APP1 payload";
}

// A 3x2 picture whose pixel (x, y) has red = 10 * (x + 1) + (y + 1), so every pixel is known.
RgbaPicture numbered() {
  RgbaPicture picture;
  picture.width = 3;
  picture.height = 2;
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) picture.pixels.insert(picture.pixels.end(), {uint8_t(10 * (x + 1) + y + 1), 0, 0, 255});
  }
  return picture;
}

std::vector<int> reds(const RgbaPicture& picture) {
  std::vector<int> values;
  for (size_t i = 0; i < picture.pixels.size(); i += 4) values.push_back(picture.pixels[i]);
  return values;
}

TEST(Upright, EachOrientationAsTiffDefinesIt) {
  // Stored:  11 21 31
  //          12 22 32
  const RgbaPicture stored = numbered();
  EXPECT_EQ(reds(upright(stored, 1)), (std::vector<int>{11, 21, 31, 12, 22, 32}));
  EXPECT_EQ(reds(upright(stored, 2)), (std::vector<int>{31, 21, 11, 32, 22, 12}));
  EXPECT_EQ(reds(upright(stored, 3)), (std::vector<int>{32, 22, 12, 31, 21, 11}));
  EXPECT_EQ(reds(upright(stored, 4)), (std::vector<int>{12, 22, 32, 11, 21, 31}));
  // 5..8 are 2 wide and 3 tall. 6: the stored left column, read bottom to top, is the top row.
  EXPECT_EQ(reds(upright(stored, 5)), (std::vector<int>{11, 12, 21, 22, 31, 32}));
  EXPECT_EQ(reds(upright(stored, 6)), (std::vector<int>{12, 11, 22, 21, 32, 31}));
  EXPECT_EQ(reds(upright(stored, 7)), (std::vector<int>{32, 31, 22, 21, 12, 11}));
  EXPECT_EQ(reds(upright(stored, 8)), (std::vector<int>{31, 32, 21, 22, 11, 12}));
  const RgbaPicture turned = upright(stored, 6);
  EXPECT_EQ(turned.width, 2);
  EXPECT_EQ(turned.height, 3);
  EXPECT_EQ(orientation_text(6), "turned 90 degrees clockwise");
  EXPECT_EQ(orientation_text(1), "");
}

TEST(Upright, AJpegStoredOnItsSideIsReadUpright) {
  // 48 wide, 32 tall, stored with a white 16x16 block at the stored top-left and orientation 6:
  // upright it is 32 wide and 48 tall with the block at the top-right (x 16..31, y 0..15).
  eval::Image stored(48, 32, 1, 0);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) stored.at(x, y)[0] = 255;
  }
  t::TempDir dir;
  t::write_jpeg(dir / "side.jpg", stored, 95, t::exif_with_orientation(6));
  const RgbaPicture picture = read_jpeg_rgba(dir / "side.jpg");
  ASSERT_EQ(picture.width, 32);
  ASSERT_EQ(picture.height, 48);
  EXPECT_EQ(picture.turned, "turned 90 degrees clockwise (Exif orientation 6)");
  // Block centres, away from JPEG's ringing at the edges: within 16 levels of 255 or 0.
  const auto red = [&](int x, int y) { return int(picture.pixels[(static_cast<size_t>(y) * 32 + x) * 4]); };
  EXPECT_GT(red(24, 8), 239);
  EXPECT_LT(red(8, 8), 16);
  EXPECT_LT(red(24, 40), 16);

  t::write_jpeg(dir / "plain.jpg", stored, 95);
  EXPECT_EQ(read_jpeg_rgba(dir / "plain.jpg").turned, "") << "no Exif: as stored";
  EXPECT_EQ(read_jpeg_rgba(dir / "plain.jpg").width, 48);
}

}  // namespace
}  // namespace train_gpu::predict
