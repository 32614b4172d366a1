// General test helpers: the message of an expected Error, a per-test temporary directory, whole-file
// reads and writes, and running a shell command with its output captured (stdout and stderr apart,
// or merged). Helpers for one kind of file live beside this one (idx_files.h, png_size.h).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "host/common/error.h"

namespace train_gpu::testing {

using Bytes = std::vector<uint8_t>;

// Whether this test was built with AddressSanitizer (the asan preset; GCC defines
// __SANITIZE_ADDRESS__, clang answers __has_feature). Tests that train on the whole of a real
// dataset to check an accuracy skip there: ASan runs training about 14 times slower, and the same
// code runs under it in the shorter training tests.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// ---- Errors -------------------------------------------------------------------------------------

// The message of the Error `action` throws, or "(no error)" when it throws none.
template <typename Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << text << "' lacks '" << part << "'";
}

// ---- Temporary directories ----------------------------------------------------------------------

// A fresh directory under the system temp dir, removed with everything in it on destruction. Its
// name holds the running test's suite and name and this process's id (tests run in parallel
// processes), then a mkdtemp suffix, so one test may hold several.
class TempDir {
 public:
  TempDir() {
    const std::string name = "train_gpu_" + current_test_label() + "_" + std::to_string(::getpid()) + "_XXXXXX";
    std::string pattern = (std::filesystem::temp_directory_path() / name).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    // A test may have made the directory read-only; removing its entries needs write access back.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  // "Suite_Name" of the running test, with anything but letters, digits, '-' and '_' made '_'
  // (parameterized tests have '/' in their names).
  static std::string current_test_label() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string label = test == nullptr ? "no_test" : std::string(test->test_suite_name()) + "_" + test->name();
    for (char& c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_') c = '_';
    }
    return label;
  }

  std::filesystem::path path_;
};

// ---- Files ----------------------------------------------------------------------------------------

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

// ---- Commands -------------------------------------------------------------------------------------

// Single-quoted for /bin/sh.
inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The exit status in a wait status; -1 when the command did not exit normally.
inline int exit_code_of(int status) { return (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1; }

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
  CommandResult result;
  result.exit_code = exit_code_of(std::system(full.c_str()));
  result.out = read_text(out_file);
  result.err = read_text(err_file);
  return result;
}

struct MergedCommandResult {
  int exit_code = -1;  // -1 also when the command could not be started
  std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh with stderr merged into stdout.
inline MergedCommandResult run_command_merged(const std::string& command) {
  MergedCommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  result.exit_code = exit_code_of(pclose(pipe));
  return result;
}

// True when /usr/bin/python3 can import all of `modules` (comma-separated).
inline bool system_python_has(const std::string& modules) {
  return run_command_merged("/usr/bin/python3 -c 'import " + modules + "'").exit_code == 0;
}

// The "key=value key=value" words of `line` (what tests/support/ scripts print for their C++
// tests to judge) as a map; other words are ignored.
inline std::map<std::string, std::string> key_values(const std::string& line) {
  std::map<std::string, std::string> values;
  size_t start = 0;
  while (start < line.size()) {
    size_t end = line.find(' ', start);
    if (end == std::string::npos) end = line.size();
    const std::string word = line.substr(start, end - start);
    const size_t equals = word.find('=');
    if (equals != std::string::npos) values[word.substr(0, equals)] = word.substr(equals + 1);
    start = end + 1;
  }
  return values;
}

// Why `python` cannot run a test that imports `modules` (comma-separated), as a skip reason
// ending in `remedy`; empty when it can. Meant for TRAIN_GPU_TEST_PYTHON, the venv
// tools/make-test-venv.sh creates.
inline std::string python_lacking(const std::string& python, const std::string& modules,
                                  const std::string& remedy = "tools/make-test-venv.sh installs the test packages") {
  if (::access(python.c_str(), X_OK) != 0) return python + " not found; " + remedy;
  const MergedCommandResult result = run_command_merged(shell_quote(python) + " -c 'import " + modules + "'");
  if (result.exit_code == 0) return "";
  const std::vector<std::string> lines = lines_of(result.output);
  return python + " cannot import " + modules + " (" + (lines.empty() ? std::string("no output") : lines.back()) + "); " +
         remedy;
}

}  // namespace train_gpu::testing
