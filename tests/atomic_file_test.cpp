// write_file_atomically: the target holds the new bytes after success and exactly the old ones
// after any failure, with no temporary file left behind. Failures are provoked in ways that
// also work as root (tests often run as root in containers, where chmod alone does not stop
// writes: the read-only case drops root's privileges in a child process).
#include "host/train/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

// A directory in the target's place is refused before anything is written (renaming over it
// would fail anyway, or, when it is empty, replace it).
TEST(AtomicFile, DirectoryAtTheTargetIsRefusedBeforeWriting) {
  t::TempDir scratch;
  const fs::path target = scratch.path() / "occupied";
  fs::create_directories(target / "inside");
  const std::string message = t::error_of([&] { write_text(target, "data"); });
  t::expect_contains(message, "cannot write " + target.string() + ": it is a directory, not a regular file");
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"occupied"});
}

// `export --out link.onnx` where link.onnx -> models/current.onnx: the model must land in the
// target, and the link must stay a link (renaming over it replaced the link and left the target
// stale). The temporary is made beside the target, so the rename stays within one directory.
TEST(AtomicFile, SymbolicLinkIsFollowedToItsTargetAndStaysALink) {
  t::TempDir scratch;
  fs::create_directories(scratch.path() / "models");
  const fs::path target = scratch.path() / "models" / "current.onnx";
  write_text(target, "old model");
  const fs::path link = scratch.path() / "link.onnx";
  fs::create_symlink("models/current.onnx", link);

  write_text(link, "new model");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link)));
  EXPECT_EQ(fs::read_symlink(link), "models/current.onnx");
  EXPECT_EQ(t::read_text(target), "new model");
  EXPECT_EQ(entries(scratch.path() / "models"), std::vector<std::string>{"current.onnx"});
}

// A chain of links across directories, absolute and relative, ending in a name that does not
// exist yet: the file is created at the end of the chain; every link stays.
TEST(AtomicFile, DanglingChainOfLinksCreatesTheFinalTarget) {
  t::TempDir scratch;
  for (const char* name : {"a", "b", "c"}) fs::create_directories(scratch.path() / name);
  const fs::path final_file = scratch.path() / "c" / "model.onnx";
  fs::create_symlink(final_file, scratch.path() / "b" / "second");   // absolute
  fs::create_symlink("../b/second", scratch.path() / "a" / "first");  // relative to a/
  write_text(scratch.path() / "a" / "first", "created");
  EXPECT_EQ(t::read_text(final_file), "created");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(scratch.path() / "a" / "first")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(scratch.path() / "b" / "second")));
  EXPECT_EQ(entries(scratch.path() / "a"), std::vector<std::string>{"first"});
  EXPECT_EQ(entries(scratch.path() / "c"), std::vector<std::string>{"model.onnx"});
}

TEST(AtomicFile, LinkLoopIsAClearError) {
  t::TempDir scratch;
  fs::create_symlink("two", scratch.path() / "one");
  fs::create_symlink("one", scratch.path() / "two");
  const std::string message = t::error_of([&] { write_text(scratch.path() / "one", "data"); });
  t::expect_contains(message, "cannot write " + (scratch.path() / "one").string() + ": Too many levels of symbolic links");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(scratch.path() / "one")));
}

// `export --out /dev/stdout` as root renamed a plain file over the device link. Devices, FIFOs
// and sockets are refused by their type, from lstat: a FIFO is never opened, so nothing blocks.
// /dev/null is reached only through a link the test makes, so even the unfixed code, which
// replaced the link, never touched /dev/null itself.
TEST(AtomicFile, DevicesFifosAndSocketsAreRefusedWithoutBlocking) {
  t::TempDir scratch;
  const fs::path fifo = scratch.path() / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  t::expect_contains(t::error_of([&] { write_text(fifo, "data"); }),
                     "cannot write " + fifo.string() + ": it is a FIFO (named pipe), not a regular file");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));

  const fs::path to_null = scratch.path() / "null.onnx";
  fs::create_symlink("/dev/null", to_null);
  t::expect_contains(t::error_of([&] { write_text(to_null, "data"); }),
                     "cannot write " + to_null.string() + ": /dev/null is a character device, not a regular file");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(to_null)));

  // /dev/stdout into a pipe: /proc/self/fd/N is a magic link whose text ("pipe:[1234]") is no path.
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const fs::path to_pipe = scratch.path() / "stdout.onnx";
  fs::create_symlink("/proc/self/fd/" + std::to_string(pipe_ends[1]), to_pipe);
  t::expect_contains(t::error_of([&] { write_text(to_pipe, "data"); }),
                     "cannot write " + to_pipe.string() + ": it is a FIFO (named pipe), not a regular file");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(to_pipe)));
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);

  const fs::path socket_path = scratch.path() / "sock";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.string().size(), sizeof address.sun_path);
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  t::expect_contains(t::error_of([&] { write_text(socket_path, "data"); }), "it is a socket, not a regular file");
  EXPECT_TRUE(fs::is_socket(fs::symlink_status(socket_path)));
  ::close(listener);
  EXPECT_EQ(entries(scratch.path()).size(), 4u) << "no temporary left behind";
}

// A replaced file keeps its permission bits, also through a link; 0751 cannot come from the
// umask (new files get 0666 minus it, never an execute bit), so this fails if the mode is lost.
TEST(AtomicFile, ReplacedFileKeepsItsMode) {
  t::TempDir scratch;
  const fs::path file = scratch.path() / "kept.bin";
  write_text(file, "old");
  ASSERT_EQ(::chmod(file.c_str(), 0751), 0);
  fs::create_symlink("kept.bin", scratch.path() / "link");
  for (const fs::path& written : {file, scratch.path() / "link"}) {
    write_text(written, "new");
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0751u) << written;
    EXPECT_EQ(t::read_text(file), "new");
  }
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
