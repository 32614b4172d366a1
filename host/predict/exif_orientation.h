// Phones store a photo as the sensor read it and record in its Exif data how to turn it upright
// (the TIFF Orientation tag, 0x0112): a digit photographed with the phone held upright is stored
// lying on its side, with orientation 6. Viewers honour the tag, so the user sees an upright
// digit; predict must too, or it classifies a digit turned by 90 degrees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "host/predict/png_input.h"

namespace train_gpu::predict {

// The Orientation of an APP1 Exif payload ("Exif\0\0" and a TIFF header, the bytes after the
// segment's length), 1 to 8; 1 (as stored) when the payload is not Exif, holds no orientation,
// holds a value outside 1..8, or is cut short. Reads only within `size` bytes.
int exif_orientation(const uint8_t* payload, size_t size);

// `picture` turned upright for orientation 1..8 (TIFF 6.0 / Exif 2.3's meaning: 2 mirrored,
// 3 turned 180 degrees, 4 flipped, 5 transposed, 6 turned 90 degrees clockwise, 7 transversed,
// 8 turned 90 degrees counter-clockwise); orientations 5 to 8 swap width and height.
RgbaPicture upright(const RgbaPicture& picture, int orientation);

// What `upright` does for `orientation`, in words for predict's steps ("turned 90 degrees
// clockwise"); empty for 1.
std::string orientation_text(int orientation);

}  // namespace train_gpu::predict
