// CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of
// TFRecord framing, and the "masked" form TensorFlow stores. Written here because Debian 12 has no
// CRC-32C library package (libcrc32c-dev is not in bookworm, and abseil's absl/crc arrived after
// bookworm's 20220623). Table-driven, byte at a time: event files are small, speed is moot.
#pragma once

#include <cstddef>
#include <cstdint>

namespace train_gpu::tensorboard {

// CRC-32C of `size` bytes; `crc` continues an earlier call's result (0 to start).
uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0);

// TensorFlow's mask (tensorflow/core/lib/hash/crc32c.h): rotate right by 15 and add a constant,
// because a CRC of data that itself embeds CRCs is weak.
constexpr uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
constexpr uint32_t unmask_crc(uint32_t masked) {
  const uint32_t rotated = masked - 0xa282ead8u;
  return (rotated >> 17) | (rotated << 15);
}

}  // namespace train_gpu::tensorboard
