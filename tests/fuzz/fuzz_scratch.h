// A private scratch directory for one fuzzing process, removed at normal exit. The readers under
// test take file paths, so inputs go through real files; one directory per process keeps
// parallel fuzzers (-jobs, -workers) from reading each other's files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace train_gpu::fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path directory = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/train_gpu-fuzz-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) std::abort();  // no scratch space: nothing can be fuzzed
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return std::filesystem::path(buffer.data());
  }();
  return directory;
}

}  // namespace train_gpu::fuzz
