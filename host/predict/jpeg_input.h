// JPEG pictures for `predict` -- what phone cameras write -- decoded to 8-bit RGBA (the same
// RgbaPicture a PNG becomes) through libjpeg-turbo's libjpeg API. libjpeg reports errors by
// calling error_exit, whose default prints and calls exit(); ours jumps back (longjmp) to the
// reader, which turns the reason into an Error naming the file. Warnings (a truncated or
// damaged stream, which libjpeg would otherwise pad with grey and accept) are errors too: a
// picture the model sees only half of would be predicted as if it were whole. A photo whose
// Exif data says how to turn it upright is turned so (exif_orientation.h), as viewers show it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "host/predict/png_input.h"

namespace train_gpu::predict {

// Reads `file`, opened through open_regular_file (a FIFO is refused, not waited on). Grayscale
// and YCbCr/RGB JPEGs are read; CMYK, a damaged or truncated file, or a picture over
// kMaxPicturePixels is an Error "FILE: ..." with libjpeg's reason.
RgbaPicture read_jpeg_rgba(const std::filesystem::path& file);

// The same for JPEG bytes already read; errors are "NAME: ..." (the fuzz target's entry).
RgbaPicture decode_jpeg_rgba(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace train_gpu::predict
