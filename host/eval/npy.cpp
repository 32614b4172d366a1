#include "host/eval/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "host/common/error.h"

// The data is written as it lies in memory and declared little-endian ('<f4').
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy writer assumes a little-endian host");

namespace train_gpu::eval {

namespace {

// The format spec asks for 64-byte alignment (older numpy used 16); readers accept any padding.
constexpr size_t kAlignment = 64;
constexpr size_t kFixedPrefix = 10;  // magic (6) + version (2) + header length (2)

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

size_t element_count(const std::filesystem::path& file, const std::vector<int64_t>& shape) {
  size_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) throw Error(file.string() + ": cannot write an array with a negative dimension " + shape_text(shape));
    count *= static_cast<size_t>(dim);
  }
  return count;
}

void write_bytes(const std::filesystem::path& file, const std::string& preamble, const void* data, size_t bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(file.string() + ": cannot create: " + std::strerror(errno));
  out.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
  if (bytes > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  out.close();
  if (!out) throw Error(file.string() + ": write failed: " + std::strerror(errno) + " (disk full?)");
}

}  // namespace

std::string npy_preamble(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text(shape) + ", }";
  // Pad with spaces so that prefix + dict + '\n' is a multiple of the alignment.
  const size_t unpadded = kFixedPrefix + dict.size() + 1;
  dict.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw Error("npy header of " + std::to_string(dict.size()) + " bytes exceeds format 1.0's limit");

  std::string preamble = "\x93NUMPY";
  preamble += '\x01';
  preamble += '\x00';
  preamble += static_cast<char>(dict.size() & 0xff);
  preamble += static_cast<char>((dict.size() >> 8) & 0xff);
  return preamble + dict;
}

void write_npy(const std::filesystem::path& file, const float* data, const std::vector<int64_t>& shape) {
  static_assert(sizeof(float) == 4, "'<f4' is a 4-byte IEEE float");
  write_bytes(file, npy_preamble("<f4", shape), data, element_count(file, shape) * sizeof(float));
}

void write_npy(const std::filesystem::path& file, const uint8_t* data, const std::vector<int64_t>& shape) {
  write_bytes(file, npy_preamble("|u1", shape), data, element_count(file, shape));
}

}  // namespace train_gpu::eval
