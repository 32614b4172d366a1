// Test helpers for the data layer: a self-removing temporary directory, IDX byte strings built
// field by field (so a test can break exactly one field), gzip compression, and running a shell
// command with its stdout and stderr captured apart.
#pragma once

#include <zlib.h>

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace train_gpu::testing {

using Bytes = std::vector<uint8_t>;

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "train_gpu_test_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void append_u32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX header: magic, then one big-endian size per entry of `sizes`.
inline Bytes idx_header(uint32_t magic, std::initializer_list<uint32_t> sizes) {
  Bytes bytes;
  append_u32(bytes, magic);
  for (uint32_t size : sizes) append_u32(bytes, size);
  return bytes;
}

// `count` images of rows x cols whose pixel i (over the whole payload) is i % 251.
inline Bytes idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
  Bytes bytes = idx_header(0x00000803, {count, rows, cols});
  const uint64_t payload = uint64_t{count} * rows * cols;
  for (uint64_t i = 0; i < payload; ++i) bytes.push_back(static_cast<uint8_t>(i % 251));
  return bytes;
}

inline Bytes idx_labels(const Bytes& labels) {
  Bytes bytes = idx_header(0x00000801, {static_cast<uint32_t>(labels.size())});
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

// Labels 0, 1, ..., 9, 0, 1, ... (count of them).
inline Bytes cycling_labels(uint32_t count) {
  Bytes labels;
  for (uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  return labels;
}

// One gzip member (zlib's deflate with a gzip wrapper: windowBits 16 + 15).
inline Bytes gzip(const Bytes& data) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  Bytes out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

// Whole-file gunzip for test fixtures (real files are small enough to hold).
inline Bytes gunzip(const Bytes& data) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + 15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  Bytes out;
  Bytes chunk(1 << 20);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = chunk.data();
    stream.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("inflate failed");
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() - stream.avail_out));
  }
  inflateEnd(&stream);
  return out;
}

inline void write_file(const std::filesystem::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline Bytes read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string read_text(const std::filesystem::path& file) {
  const Bytes bytes = read_file(file);
  return std::string(bytes.begin(), bytes.end());
}

// Single-quoted for /bin/sh.
inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `command` through /bin/sh with stdout and stderr sent to files in `scratch`.
inline CommandResult run_command(const std::string& command, const std::filesystem::path& scratch) {
  const std::filesystem::path out_file = scratch / "command.stdout";
  const std::filesystem::path err_file = scratch / "command.stderr";
  const std::string full = command + " >" + shell_quote(out_file.string()) + " 2>" + shell_quote(err_file.string()) +
                           " </dev/null";
  const int status = std::system(full.c_str());
  CommandResult result;
  result.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  result.out = read_text(out_file);
  result.err = read_text(err_file);
  return result;
}

// Lines of `text`, without their newlines; a final unterminated line counts.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace train_gpu::testing
