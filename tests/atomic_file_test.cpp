// write_file_atomically: the target holds the new bytes after success and exactly the old ones
// after any failure, with no temporary file left behind. Failures are provoked in ways that
// also work as root (tests often run as root in containers, where chmod does not stop writes).
#include "host/train/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "host/common/error.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;

class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("train_gpu_atomic_" + std::string(test->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& file, const std::string& text) { write_file_atomically(file, text.data(), text.size()); }

std::vector<std::string> entries(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename().string());
  return names;
}

// The Error's message, or "(no error)".
template <typename Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << text << "' lacks '" << part << "'";
}

TEST(AtomicFile, CreatesNewFileWithContents) {
  ScratchDirectory scratch;
  const fs::path file = scratch.path() / "new.bin";
  std::string contents(100000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 7 + 3);
  write_text(file, contents);
  EXPECT_EQ(read_text(file), contents);
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"new.bin"});
}

TEST(AtomicFile, ReplacesExistingFileAndLeavesNoTemporary) {
  ScratchDirectory scratch;
  const fs::path file = scratch.path() / "checkpoint.safetensors";
  write_text(file, "old contents, longer than the new ones");
  write_text(file, "new");
  EXPECT_EQ(read_text(file), "new");
  write_text(file, "");
  EXPECT_EQ(read_text(file), "");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.safetensors"});
}

TEST(AtomicFile, RelativePathWritesIntoCurrentDirectory) {
  ScratchDirectory scratch;
  const fs::path previous = fs::current_path();
  fs::current_path(scratch.path());
  write_text("relative.txt", "here");
  fs::current_path(previous);
  EXPECT_EQ(read_text(scratch.path() / "relative.txt"), "here");
}

TEST(AtomicFile, NewFileModeFollowsUmask) {
  ScratchDirectory scratch;
  const mode_t mask = ::umask(0);  // reading the umask means setting it; put it back at once
  ::umask(mask);
  write_text(scratch.path() / "mode.txt", "x");
  struct stat info {};
  ASSERT_EQ(::stat((scratch.path() / "mode.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0666u & ~mask);
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  ScratchDirectory scratch;
  const fs::path file = scratch.path() / "no_such_dir" / "file.bin";
  const std::string message = error_of([&] { write_text(file, "data"); });
  expect_contains(message, file.string());
  expect_contains(message, "No such file or directory");
  EXPECT_TRUE(entries(scratch.path()).empty());
}

TEST(AtomicFile, ParentThatIsARegularFileIsAClearError) {
  ScratchDirectory scratch;
  const fs::path not_a_directory = scratch.path() / "plain";
  write_text(not_a_directory, "previous");
  const std::string message = error_of([&] { write_text(not_a_directory / "file.bin", "data"); });
  expect_contains(message, (not_a_directory / "file.bin").string());
  expect_contains(message, "Not a directory");
  EXPECT_EQ(read_text(not_a_directory), "previous");
}

TEST(AtomicFile, ReadOnlyDirectoryKeepsPreviousFile) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, which may write into a read-only directory; the other failure "
                    "tests (missing directory, file as parent, write and rename failures) cover the error paths";
  }
  ScratchDirectory scratch;
  const fs::path file = scratch.path() / "checkpoint.bin";
  write_text(file, "previous");
  fs::permissions(scratch.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string message = error_of([&] { write_text(file, "replacement"); });
  fs::permissions(scratch.path(), fs::perms::owner_all);
  expect_contains(message, file.string());
  expect_contains(message, "Permission denied");
  EXPECT_EQ(read_text(file), "previous");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.bin"});
}

// A write that fails halfway (here: the file-size limit, as a full disk would) must leave the
// old file and no temporary. RLIMIT_FSIZE binds root too.
TEST(AtomicFile, FailedWriteKeepsPreviousFileAndRemovesTemporary) {
  ScratchDirectory scratch;
  const fs::path file = scratch.path() / "checkpoint.bin";
  write_text(file, "previous");

  rlimit previous_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &previous_limit), 0);
  rlimit small_limit = previous_limit;
  small_limit.rlim_cur = 4096;
  // Without this, exceeding the limit raises SIGXFSZ and kills the test instead of failing write().
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small_limit), 0);
  const std::string big(1 << 20, 'x');
  const std::string message = error_of([&] { write_text(file, big); });
  ::setrlimit(RLIMIT_FSIZE, &previous_limit);
  std::signal(SIGXFSZ, previous_handler);

  expect_contains(message, file.string());
  expect_contains(message, "File too large");
  EXPECT_EQ(read_text(file), "previous");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.bin"});
}

// The last step can fail too: a directory in the target's place cannot be renamed over.
TEST(AtomicFile, FailedRenameRemovesTemporary) {
  ScratchDirectory scratch;
  const fs::path target = scratch.path() / "occupied";
  fs::create_directories(target / "inside");
  const std::string message = error_of([&] { write_text(target, "data"); });
  expect_contains(message, target.string());
  expect_contains(message, "renaming");
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"occupied"});
}

TEST(AtomicFile, DirectoryPathIsRejected) {
  ScratchDirectory scratch;
  expect_contains(error_of([&] { write_text(scratch.path() / "", "data"); }), "names a directory");
  expect_contains(error_of([&] { write_text(scratch.path() / ".", "data"); }), "names a directory");
}

}  // namespace
}  // namespace train_gpu
