#include "host/predict/exif_orientation.h"

#include <cstring>

namespace train_gpu::predict {

namespace {

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kShortType = 3;

struct TiffReader {
  const uint8_t* data;
  size_t size;
  bool little_endian;

  bool u16(size_t at, uint16_t& value) const {
    if (at > size || size - at < 2) return false;
    value = little_endian ? static_cast<uint16_t>(data[at] | data[at + 1] << 8) : static_cast<uint16_t>(data[at] << 8 | data[at + 1]);
    return true;
  }
  bool u32(size_t at, uint32_t& value) const {
    uint16_t first = 0, second = 0;
    if (!u16(at, first) || !u16(at + 2, second)) return false;
    value = little_endian ? (uint32_t{second} << 16 | first) : (uint32_t{first} << 16 | second);
    return true;
  }
};

}  // namespace

int exif_orientation(const uint8_t* payload, size_t size) {
  constexpr size_t kExifHeader = 6;  // "Exif\0\0"
  if (size < kExifHeader + 8 || std::memcmp(payload, "Exif\0\0", kExifHeader) != 0) return 1;
  const uint8_t* tiff = payload + kExifHeader;
  const size_t tiff_size = size - kExifHeader;
  TiffReader reader{tiff, tiff_size, false};
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    reader.little_endian = true;
  } else if (!(tiff[0] == 'M' && tiff[1] == 'M')) {
    return 1;
  }
  uint16_t magic = 0, entries = 0;
  uint32_t first_directory = 0;
  if (!reader.u16(2, magic) || magic != 42 || !reader.u32(4, first_directory)) return 1;
  if (!reader.u16(first_directory, entries)) return 1;
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t entry = size_t{first_directory} + 2 + 12 * size_t{i};
    uint16_t tag = 0, type = 0, value = 0;
    uint32_t count = 0;
    if (!reader.u16(entry, tag) || !reader.u16(entry + 2, type) || !reader.u32(entry + 4, count) || !reader.u16(entry + 8, value)) {
      return 1;
    }
    if (tag == kOrientationTag) return type == kShortType && count == 1 && value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

RgbaPicture upright(const RgbaPicture& picture, int orientation) {
  if (orientation < 2 || orientation > 8) return picture;
  const int w = picture.width, h = picture.height;
  const bool swaps = orientation >= 5;
  RgbaPicture turned = picture;
  turned.width = swaps ? h : w;
  turned.height = swaps ? w : h;
  for (int y = 0; y < turned.height; ++y) {
    for (int x = 0; x < turned.width; ++x) {
      // The stored pixel (sx, sy) that shows at (x, y) once the picture is upright.
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y, sy = x; break;
        case 6: sx = y, sy = h - 1 - x; break;
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;
        case 8: sx = w - 1 - y, sy = x; break;
        default: break;
      }
      std::memcpy(turned.pixels.data() + (static_cast<size_t>(y) * turned.width + x) * 4,
                  picture.pixels.data() + (static_cast<size_t>(sy) * w + sx) * 4, 4);
    }
  }
  return turned;
}

std::string orientation_text(int orientation) {
  switch (orientation) {
    case 2: return "mirrored left to right";
    case 3: return "turned 180 degrees";
    case 4: return "flipped top to bottom";
    case 5: return "transposed (mirrored, then turned 90 degrees counter-clockwise)";
    case 6: return "turned 90 degrees clockwise";
    case 7: return "transversed (mirrored, then turned 90 degrees clockwise)";
    case 8: return "turned 90 degrees counter-clockwise";
    default: return "";
  }
}

}  // namespace train_gpu::predict
