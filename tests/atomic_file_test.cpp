// write_file_atomically: the target holds the new bytes after success and exactly the old ones
// after any failure, with no temporary file left behind. Failures are provoked in ways that
// also work as root (tests often run as root in containers, where chmod alone does not stop
// writes: the read-only case drops root's privileges in a child process).
#include "host/train/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
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

// What a save in `directory` says, attempted by a child process that first drops root's privileges
// (to nobody, 65534): root writes into read-only directories regardless (CAP_DAC_OVERRIDE), and CI
// runs as root. The child enters the directory before it drops them, so the directories above
// need not be open to nobody; it writes "NAME" relative to there. Empty, with *why_not set, when
// the privileges could not be dropped.
std::string unprivileged_save_error(const fs::path& directory, const std::string& name, const std::string& contents,
                                    std::string* why_not) {
  int channel[2];
  if (::pipe(channel) != 0) {
    *why_not = "pipe failed";
    return {};
  }
  const pid_t child = ::fork();
  if (child < 0) {
    *why_not = "fork failed";
    return {};
  }
  if (child == 0) {
    ::close(channel[0]);
    std::string report;
    if (::chdir(directory.c_str()) != 0) {
      report = "!chdir failed";
    } else if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      report = std::string("!dropping root's privileges failed: ") + std::strerror(errno);
    } else {
      report = t::error_of([&] { write_text(name, contents); });
    }
    const ssize_t written = ::write(channel[1], report.data(), report.size());
    ::_exit(written == static_cast<ssize_t>(report.size()) ? 0 : 1);
  }
  ::close(channel[1]);
  std::string report;
  char buffer[512];
  for (;;) {
    const ssize_t n = ::read(channel[0], buffer, sizeof buffer);
    if (n > 0) {
      report.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(channel[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (!report.empty() && report[0] == '!')) {
    *why_not = !report.empty() && report[0] == '!' ? report.substr(1) : "the child did not exit cleanly: " + report;
    return {};
  }
  return report;
}

TEST(AtomicFile, ReadOnlyDirectoryKeepsPreviousFile) {
  t::TempDir scratch;
  const fs::path directory = scratch.path() / "read-only";
  fs::create_directory(directory);
  write_text(directory / "checkpoint.bin", "previous");
  fs::permissions(directory, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
  std::string why_not;
  const std::string message = unprivileged_save_error(directory, "checkpoint.bin", "replacement", &why_not);
  fs::permissions(directory, fs::perms::owner_all);  // so TempDir can clean up as any user
  if (!why_not.empty()) GTEST_SKIP() << "cannot attempt the save unprivileged: " << why_not;
  t::expect_contains(message, "cannot write checkpoint.bin");
  t::expect_contains(message, "Permission denied");
  EXPECT_EQ(t::read_text(directory / "checkpoint.bin"), "previous");
  EXPECT_EQ(entries(directory), std::vector<std::string>{"checkpoint.bin"});
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
