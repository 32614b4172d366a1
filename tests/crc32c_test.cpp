// CRC-32C against published check values, and TensorFlow's mask.
#include "host/tensorboard/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace train_gpu::tensorboard {
namespace {

TEST(Crc32c, MatchesTheCatalogueCheckValue) {
  // The "check" value of CRC-32C (iSCSI) in the CRC catalogue: the CRC of the ASCII digits 1..9.
  const std::string digits = "123456789";
  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, MatchesTheIscsiTestVectors) {
  // RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of ones, ascending and descending.
  std::vector<uint8_t> bytes(32, 0x00);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x8A9136AAu);
  bytes.assign(32, 0xFF);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x62A8AB43u);
  for (uint8_t i = 0; i < 32; ++i) bytes[i] = i;
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x46DD794Eu);
  for (uint8_t i = 0; i < 32; ++i) bytes[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesAcrossCalls) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  const uint32_t whole = crc32c(text.data(), text.size());
  EXPECT_EQ(whole, 0x22620404u);  // a widely quoted CRC-32C of this sentence
  EXPECT_EQ(crc32c(text.data() + 10, text.size() - 10, crc32c(text.data(), 10)), whole);
}

TEST(MaskedCrc, IsTensorFlowsRotationPlusConstantAndInverts) {
  EXPECT_EQ(mask_crc(0), 0xA282EAD8u);
  // 0xE3069283 rotated right by 15: 0x2507C60D; plus the constant, modulo 2^32: 0xC78AB0E5.
  EXPECT_EQ(mask_crc(0xE3069283u), 0xC78AB0E5u);
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x80000000u}) EXPECT_EQ(unmask_crc(mask_crc(crc)), crc);
}

}  // namespace
}  // namespace train_gpu::tensorboard
