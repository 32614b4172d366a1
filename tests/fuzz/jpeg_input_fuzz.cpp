// libFuzzer target for predict's JPEG reader (host/predict/jpeg_input.h), libjpeg behind our
// longjmp error handler and our Exif orientation parser: any byte string must either decode
// into a picture whose pixel count matches its size, within predict's limit, every pixel
// opaque, or be rejected with train_gpu::Error. A crash, a sanitizer report, an exit() from
// libjpeg, another exception type or a broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/common/error.h"
#include "host/predict/jpeg_input.h"

namespace predict = train_gpu::predict;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const predict::RgbaPicture picture = predict::decode_jpeg_rgba(bytes, "fuzz input");
    if (picture.width < 1 || picture.height < 1) __builtin_trap();
    if (int64_t{picture.width} * picture.height > predict::kMaxPicturePixels) __builtin_trap();
    if (picture.pixels.size() != static_cast<size_t>(picture.width) * static_cast<size_t>(picture.height) * 4) __builtin_trap();
    for (size_t i = 3; i < picture.pixels.size(); i += 4) {
      if (picture.pixels[i] != 255) __builtin_trap();
    }
  } catch (const train_gpu::Error&) {
    // Rejected with a user-facing message: the expected outcome for most inputs.
  }
  return 0;
}
