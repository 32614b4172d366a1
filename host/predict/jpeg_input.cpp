#include "host/predict/jpeg_input.h"

// jpeglib.h needs FILE and size_t declared before it.
#include <cstdio>
#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/predict/exif_orientation.h"

namespace train_gpu::predict {

namespace {

struct JumpingErrors {
  jpeg_error_mgr manager;  // first, so libjpeg's pointer to it is a pointer to the whole
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_back(j_common_ptr info) {
  JumpingErrors* errors = reinterpret_cast<JumpingErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is a warning about damaged data (libjpeg goes on with made-up pixels); higher
// levels are trace messages, which stay silent.
void warning_is_error(j_common_ptr info, int level) {
  if (level < 0) jump_back(info);
}

enum class Decoded { kOk, kLibjpegError, kTooLarge };

// Only C objects live in this frame, so the longjmp out of libjpeg skips no destructor; the
// picture is the caller's and is only resized between libjpeg calls.
Decoded decode(const std::vector<uint8_t>& bytes, RgbaPicture& picture, int& orientation, JumpingErrors& errors) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jump_back;
  errors.manager.emit_message = warning_is_error;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return Decoded::kLibjpegError;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);  // APP1: Exif, for the orientation
  jpeg_read_header(&info, TRUE);
  for (jpeg_saved_marker_ptr marker = info.marker_list; marker != nullptr; marker = marker->next) {
    if (marker->marker == JPEG_APP0 + 1) orientation = exif_orientation(marker->data, marker->data_length);
  }
  picture.width = static_cast<int>(info.image_width);
  picture.height = static_cast<int>(info.image_height);
  if (int64_t{info.image_width} * int64_t{info.image_height} > kMaxPicturePixels) {
    jpeg_destroy_decompress(&info);
    return Decoded::kTooLarge;
  }
  picture.colour = info.num_components > 1;
  info.out_color_space = JCS_EXT_RGBA;  // libjpeg-turbo's: gray and YCbCr expanded, alpha 255
  jpeg_start_decompress(&info);
  const size_t stride = static_cast<size_t>(info.output_width) * 4;
  picture.pixels.resize(stride * info.output_height);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = picture.pixels.data() + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return Decoded::kOk;
}

}  // namespace

RgbaPicture read_jpeg_rgba(const std::filesystem::path& file) {
  return decode_jpeg_rgba(read_regular_file(file, "a JPEG picture"), file.string());
}

RgbaPicture decode_jpeg_rgba(const std::vector<uint8_t>& bytes, const std::string& name) {
  RgbaPicture picture;
  JumpingErrors errors{};
  int orientation = 1;
  switch (decode(bytes, picture, orientation, errors)) {
    case Decoded::kOk:
      if (orientation == 1) return picture;
      picture = upright(picture, orientation);
      picture.turned = orientation_text(orientation) + " (Exif orientation " + std::to_string(orientation) + ")";
      return picture;
    case Decoded::kLibjpegError:
      throw Error(name + ": not a readable JPEG (libjpeg: " + errors.message + ")");
    case Decoded::kTooLarge:
      break;
  }
  throw Error(name + ": " + std::to_string(picture.width) + "x" + std::to_string(picture.height) +
              " pixels; predict reads pictures of up to " + std::to_string(kMaxPicturePixels) + " pixels");
}

}  // namespace train_gpu::predict
