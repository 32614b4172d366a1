// SHA-256 through OpenSSL's EVP interface: the dataset loader identifies known public files by
// the digest of the file as stored, and a streaming hasher lets it hash while it reads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace train_gpu {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  // Lowercase hex, 64 characters. Finishes the hash: call once, then discard the object.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(const void* data, size_t size);
std::string sha256_hex(const std::string& text);
// Streams the file; an Error names the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace train_gpu
