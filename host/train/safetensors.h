// The safetensors file format (https://github.com/huggingface/safetensors), written and read
// without the Rust library, for PyTorch's and numpy's sake:
//
//   [u64 little-endian N][N bytes of JSON header][data section]
//
// The header maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets": [begin,
// end]} (byte offsets into the data section) and may hold "__metadata__", a map of string to
// string. Like the reference writer we pad the header with spaces to a multiple of 8 bytes so
// the data section starts aligned and readers can mmap tensors in place.
//
// The reader trusts nothing: every size is checked against the file's actual size before it is
// used, and tensors must tile the data section exactly (sorted by offset, no gaps, no overlap,
// nothing left over), as the reference implementation demands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace train_gpu::safetensors {

// The bytes are copied with memcpy: little-endian in memory is what the format stores.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors stores little-endian data; port the byte order");

using Metadata = std::map<std::string, std::string>;

// A float32 tensor to write; the data stays owned by the caller until encode() returns.
struct F32TensorView {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;  // product(shape) elements
};

// The whole file's bytes. The data section is the tensors' bytes concatenated in the order
// given, so a caller can checksum the data section before encoding (data_crc32 in metadata).
std::vector<unsigned char> encode(const std::vector<F32TensorView>& tensors, const Metadata& metadata);

struct TensorInfo {
  std::string dtype;             // "F32", "F16", "I64", ... (any dtype of the format)
  std::vector<int64_t> shape;
  uint64_t begin = 0;            // byte offsets into the data section
  uint64_t end = 0;
};

// A parsed, validated file held in memory.
class File {
 public:
  // Reads `path` whole and validates it; any problem is an Error naming the path.
  static File read(const std::filesystem::path& path);
  // The same from bytes already in memory; `source` names them in error messages.
  static File parse(std::vector<unsigned char> bytes, const std::string& source);

  const std::string& source() const { return source_; }
  const Metadata& metadata() const { return metadata_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }

  // The data section, for checksums.
  const unsigned char* data_section() const { return bytes_.data() + data_start_; }
  std::size_t data_section_size() const { return bytes_.size() - data_start_; }

  // Copies tensor `name`'s values. It must be F32 with exactly `count` elements; else an Error.
  void copy_f32(const std::string& name, float* out, std::size_t count) const;

 private:
  File() = default;

  std::string source_;
  std::vector<unsigned char> bytes_;
  std::size_t data_start_ = 0;
  Metadata metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

// Bytes per element of a dtype of the format; 0 for a name the format does not define.
std::size_t dtype_size(const std::string& dtype);

// Largest header the reader accepts. The reference library also caps it (at 100 MB) so that a
// corrupt length cannot make a reader allocate gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

}  // namespace train_gpu::safetensors
