// write_file_atomically: the target holds the new bytes after success and exactly the old ones
// after any failure, with no temporary file left behind. Failures are provoked in ways that
// also work as root (tests often run as root in containers, where chmod does not stop writes).
#include "host/train/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

void write_text(const fs::path& file, const std::string& text) { write_file_atomically(file, text.data(), text.size()); }

std::vector<std::string> entries(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename().string());
  return names;
}

TEST(AtomicFile, CreatesNewFileWithContents) {
  t::TempDir scratch;
  const fs::path file = scratch.path() / "new.bin";
  std::string contents(100000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 7 + 3);
  write_text(file, contents);
  EXPECT_EQ(t::read_text(file), contents);
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"new.bin"});
}

TEST(AtomicFile, ReplacesExistingFileAndLeavesNoTemporary) {
  t::TempDir scratch;
  const fs::path file = scratch.path() / "checkpoint.safetensors";
  write_text(file, "old contents, longer than the new ones");
  write_text(file, "new");
  EXPECT_EQ(t::read_text(file), "new");
  write_text(file, "");
  EXPECT_EQ(t::read_text(file), "");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.safetensors"});
}

TEST(AtomicFile, RelativePathWritesIntoCurrentDirectory) {
  t::TempDir scratch;
  const fs::path previous = fs::current_path();
  fs::current_path(scratch.path());
  write_text("relative.txt", "here");
  fs::current_path(previous);
  EXPECT_EQ(t::read_text(scratch.path() / "relative.txt"), "here");
}

TEST(AtomicFile, NewFileModeFollowsUmask) {
  t::TempDir scratch;
  const mode_t mask = ::umask(0);  // reading the umask means setting it; put it back at once
  ::umask(mask);
  write_text(scratch.path() / "mode.txt", "x");
  struct stat info {};
  ASSERT_EQ(::stat((scratch.path() / "mode.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0666u & ~mask);
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  t::TempDir scratch;
  const fs::path file = scratch.path() / "no_such_dir" / "file.bin";
  const std::string message = t::error_of([&] { write_text(file, "data"); });
  t::expect_contains(message, file.string());
  t::expect_contains(message, "No such file or directory");
  EXPECT_TRUE(entries(scratch.path()).empty());
}

TEST(AtomicFile, ParentThatIsARegularFileIsAClearError) {
  t::TempDir scratch;
  const fs::path not_a_directory = scratch.path() / "plain";
  write_text(not_a_directory, "previous");
  const std::string message = t::error_of([&] { write_text(not_a_directory / "file.bin", "data"); });
  t::expect_contains(message, (not_a_directory / "file.bin").string());
  t::expect_contains(message, "Not a directory");
  EXPECT_EQ(t::read_text(not_a_directory), "previous");
}

TEST(AtomicFile, ReadOnlyDirectoryKeepsPreviousFile) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, which may write into a read-only directory; the other failure "
                    "tests (missing directory, file as parent, write and rename failures) cover the error paths";
  }
  t::TempDir scratch;
  const fs::path file = scratch.path() / "checkpoint.bin";
  write_text(file, "previous");
  fs::permissions(scratch.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string message = t::error_of([&] { write_text(file, "replacement"); });
  fs::permissions(scratch.path(), fs::perms::owner_all);
  t::expect_contains(message, file.string());
  t::expect_contains(message, "Permission denied");
  EXPECT_EQ(t::read_text(file), "previous");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.bin"});
}

// A write that fails halfway (here: the file-size limit, as a full disk would) must leave the
// old file and no temporary. RLIMIT_FSIZE binds root too.
TEST(AtomicFile, FailedWriteKeepsPreviousFileAndRemovesTemporary) {
  t::TempDir scratch;
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
  const std::string message = t::error_of([&] { write_text(file, big); });
  ::setrlimit(RLIMIT_FSIZE, &previous_limit);
  std::signal(SIGXFSZ, previous_handler);

  t::expect_contains(message, file.string());
  t::expect_contains(message, "File too large");
  EXPECT_EQ(t::read_text(file), "previous");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"checkpoint.bin"});
}

// The last step can fail too: a directory in the target's place cannot be renamed over.
TEST(AtomicFile, FailedRenameRemovesTemporary) {
  t::TempDir scratch;
  const fs::path target = scratch.path() / "occupied";
  fs::create_directories(target / "inside");
  const std::string message = t::error_of([&] { write_text(target, "data"); });
  t::expect_contains(message, target.string());
  t::expect_contains(message, "renaming");
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"occupied"});
}

TEST(AtomicFile, DirectoryPathIsRejected) {
  t::TempDir scratch;
  t::expect_contains(t::error_of([&] { write_text(scratch.path() / "", "data"); }), "names a directory");
  t::expect_contains(t::error_of([&] { write_text(scratch.path() / ".", "data"); }), "names a directory");
}

TEST(AtomicFile, StaleTemporariesOfDeadProcessesAreRemovedOthersKept) {
  t::TempDir scratch;
  // A pid that surely existed and is gone: a child that exited and was reaped.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string dead = std::to_string(child);
  const std::string alive = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{".epoch-002.safetensors.tmp-" + dead + "-0", ".metrics.csv.tmp-" + dead + "-3",
                                  ".epoch-003.safetensors.tmp-" + alive + "-0", "epoch-001.safetensors",
                                  ".write-probe", ".notes.tmp-x-1"}) {
    write_text(scratch.path() / name, "x");
  }
  EXPECT_EQ(remove_stale_temporaries(scratch.path()), 2);
  std::vector<std::string> left = entries(scratch.path());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".epoch-003.safetensors.tmp-" + alive + "-0", ".notes.tmp-x-1", ".write-probe",
                                            "epoch-001.safetensors"}));
  EXPECT_EQ(remove_stale_temporaries(scratch.path() / "missing"), 0);  // no directory: nothing to do
}

}  // namespace
}  // namespace train_gpu
