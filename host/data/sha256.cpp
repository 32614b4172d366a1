#include "host/data/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <vector>

#include "host/common/error.h"
#include "host/common/regular_file.h"

namespace train_gpu {

struct Sha256::Context {
  struct Deleter {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Deleter> evp;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->evp.reset(EVP_MD_CTX_new());
  if (!context_->evp) throw Error("OpenSSL: EVP_MD_CTX_new failed (out of memory?)");
  if (EVP_DigestInit_ex(context_->evp.get(), EVP_sha256(), nullptr) != 1) {
    throw Error("OpenSSL: EVP_DigestInit_ex(SHA-256) failed");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(context_->evp.get(), data, size) != 1) throw Error("OpenSSL: EVP_DigestUpdate(SHA-256) failed");
}

std::string Sha256::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->evp.get(), digest.data(), &length) != 1) {
    throw Error("OpenSSL: EVP_DigestFinal_ex(SHA-256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string sha256_hex(const void* data, size_t size) {
  Sha256 hasher;
  hasher.update(data, size);
  return hasher.hex_digest();
}

std::string sha256_hex(const std::string& text) { return sha256_hex(text.data(), text.size()); }

std::string sha256_file(const std::filesystem::path& file) {
  const RegularFile opened = open_regular_file(file);
  Sha256 hasher;
  std::vector<unsigned char> buffer(1 << 20);
  for (;;) {
    const size_t got = read_up_to(opened.descriptor.get(), buffer.data(), buffer.size(), file);
    hasher.update(buffer.data(), got);
    if (got < buffer.size()) return hasher.hex_digest();
  }
}

}  // namespace train_gpu
