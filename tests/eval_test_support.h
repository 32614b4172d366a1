// Helpers shared by the evaluation tests (confusion, npy, png, evaluator, evaluate command,
// plot script): a scratch directory removed afterwards, running a program with its output
// captured, and reading a PNG's size from its IHDR chunk.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

namespace train_gpu::eval_test {

// A fresh directory under the system's temp dir; removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / ("train_gpu-" + prefix + "-XXXXXX")).string();
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

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;  // the program's exit status; -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh with stderr merged into stdout.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct PngSize {
  uint32_t width = 0;
  uint32_t height = 0;
  bool valid = false;  // PNG signature and IHDR found
};

// Width and height from the IHDR chunk, which the PNG spec puts first, at bytes 16..23.
inline PngSize png_size(const std::filesystem::path& file) {
  const std::string bytes = read_file(file);
  PngSize size;
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0) return size;
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
  };
  size.width = be32(16);
  size.height = be32(20);
  size.valid = true;
  return size;
}

// True when /usr/bin/python3 can import all of `modules` (comma-separated).
inline bool system_python_has(const std::string& modules) {
  return run_command("/usr/bin/python3 -c 'import " + modules + "'").exit_code == 0;
}

}  // namespace train_gpu::eval_test
