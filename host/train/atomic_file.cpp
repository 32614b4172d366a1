#include "host/train/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host/common/error.h"
#include "host/common/file_descriptor.h"
#include "host/common/held_signals.h"
#include "host/common/regular_file.h"

namespace train_gpu {
namespace {

std::string system_reason(int error_number) { return std::strerror(error_number); }

// Removes the temporary file unless the rename consumed it.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!released_) ::unlink(path_.c_str());
  }
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

// ".name.tmp-<pid>-<n>" next to the target: hidden, recognizably ours, and unique among the
// threads and processes that could write the same checkpoint at once (O_EXCL settles the rest).
std::filesystem::path temporary_name(const std::filesystem::path& directory, const std::filesystem::path& name) {
  static std::atomic<unsigned long> counter{0};
  return directory / ("." + name.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

void write_all(int fd, const unsigned char* bytes, std::size_t size, const std::string& context,
               const std::filesystem::path& temporary) {
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw Error(context + ": writing " + temporary.string() + " failed: " + system_reason(errno));
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

// TEST-ONLY pause point (see atomic_file.h): the marker path when TRAIN_GPU_TEST_PAUSE_WRITING
// asks to pause the writing of a file named `name`, else empty.
std::filesystem::path test_pause_marker_for(const std::filesystem::path& name) {
  const char* setting = std::getenv("TRAIN_GPU_TEST_PAUSE_WRITING");
  if (setting == nullptr) return {};
  const std::string value(setting);
  const std::size_t colon = value.find(':');
  if (colon == std::string::npos || value.compare(0, colon, name.string()) != 0) return {};
  return value.substr(colon + 1);
}

// Publishes the temporary's path in the marker (written beside it, then renamed, so a test never
// reads it half-written) and stops the process (SIGSTOP) until the test kills it (SIGKILL) or
// queues a signal and continues it (SIGCONT), whereupon the write goes on.
void pause_for_test(const std::filesystem::path& marker, const std::filesystem::path& temporary) {
  const std::filesystem::path draft = marker.string() + ".draft";
  const std::string text = temporary.string() + "\n";
  const int fd = ::open(draft.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd >= 0) {
    FileDescriptor descriptor(fd);
    write_all(descriptor.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size(), "test pause marker",
              draft);
  }
  ::rename(draft.c_str(), marker.c_str());
  ::raise(SIGSTOP);
}

// Where writing `file` must land: `file` itself, or, when it is a symbolic link, the end of its
// chain of links (which may not exist yet: a dangling link names the file to create). Renaming
// over the link itself would turn `link.onnx -> target` into a regular file and leave the target
// stale. Links are resolved one at a time, not with canonical(), because the end may be missing.
std::filesystem::path final_target(const std::filesystem::path& file, const std::string& context) {
  // The kernel's own limit on links in one path (MAXSYMLINKS), so a loop ends with ELOOP's words.
  constexpr int kMaxLinks = 40;
  std::filesystem::path target = file;
  for (int links = 0;; ++links) {
    std::error_code error;
    const std::filesystem::file_status status = std::filesystem::symlink_status(target, error);
    if (!std::filesystem::is_symlink(status)) return target;
    if (links == kMaxLinks) throw Error(context + ": " + system_reason(ELOOP) + " (a link loop?)");
    const std::filesystem::path next = std::filesystem::read_symlink(target, error);
    if (error) throw Error(context + ": cannot read the symbolic link " + target.string() + ": " + error.message());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, const void* data, std::size_t size) {
  if (file.filename().empty() || file.filename() == "." || file.filename() == "..") {
    throw Error("cannot write '" + file.string() + "': the path names a directory, not a file");
  }
  const std::string context = "cannot write " + file.string();
  const std::filesystem::path target = final_target(file, context);
  const std::filesystem::path name = target.filename();
  if (name.empty() || name == "." || name == "..") {
    throw Error(context + ": it links to " + target.string() + ", which names a directory, not a file");
  }
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");

  // Only a regular file may be replaced: renaming over /dev/null or a FIFO would swap a device
  // node for a plain file (as root, for everyone). lstat, not open: opening a FIFO would block.
  struct stat existing {};
  const bool target_exists = ::lstat(target.c_str(), &existing) == 0;
  if (target_exists && !S_ISREG(existing.st_mode)) {
    throw Error(context + ": " + (target == file ? std::string("it") : target.string()) + " is " +
                file_type_name(existing.st_mode) + ", not a regular file; name a regular file to write");
  }
  // /proc's magic links (/dev/stdout -> /proc/self/fd/1 -> "pipe:[1234]") name nothing readlink
  // can follow, but stat() through `file` reaches what the kernel would open.
  struct stat opened {};
  if (!target_exists && ::stat(file.c_str(), &opened) == 0 && !S_ISREG(opened.st_mode)) {
    throw Error(context + ": it is " + file_type_name(opened.st_mode) + ", not a regular file; name a regular file to write");
  }

  // From the temporary's creation until it is renamed or removed: SIGTERM during an export (no
  // handler, so the default action) killed the process there and left the temporary behind. Held,
  // the signal ends the process only once the new file is in place or the temporary is gone.
  const TerminationSignalsHeld held_signals;
  std::filesystem::path temporary_path;
  int fd = -1;
  // A leftover temporary of a killed process with the same pid could collide; try a few names.
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    temporary_path = temporary_name(directory, name);
    fd = ::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST && errno != EINTR) {
      throw Error(context + ": cannot create a temporary file in " + directory.string() + ": " + system_reason(errno));
    }
  }
  if (fd < 0) {
    throw Error(context + ": cannot create a temporary file in " + directory.string() + ": " + system_reason(errno));
  }
  TemporaryFile temporary(temporary_path);
  FileDescriptor descriptor(fd);

  // In two halves only so that the test-only pause point can sit inside the write.
  const auto* bytes = static_cast<const unsigned char*>(data);
  const std::size_t first_half = size / 2;
  write_all(descriptor.get(), bytes, first_half, context, temporary_path);
  if (const std::filesystem::path marker = test_pause_marker_for(name); !marker.empty()) {
    pause_for_test(marker, temporary_path);
  }
  write_all(descriptor.get(), bytes + first_half, size - first_half, context, temporary_path);
  // A replaced file keeps its permission bits (a 0600 checkpoint stays private); fchmod, since
  // the umask shaped the temporary's mode at creation.
  if (target_exists && ::fchmod(descriptor.get(), existing.st_mode & 07777) != 0) {
    throw Error(context + ": setting the mode of " + temporary_path.string() + " failed: " + system_reason(errno));
  }
  // The data must be on disk before the rename publishes it; otherwise a crash after the rename
  // could leave the new name pointing at an empty or partial file (ext4 delayed allocation).
  if (::fsync(descriptor.get()) != 0) {
    throw Error(context + ": fsync of " + temporary_path.string() + " failed: " + system_reason(errno));
  }
  if (const int close_error = descriptor.close(); close_error != 0) {
    throw Error(context + ": closing " + temporary_path.string() + " failed: " + system_reason(close_error));
  }
  if (::rename(temporary_path.c_str(), target.c_str()) != 0) {
    throw Error(context + ": renaming " + temporary_path.string() + " over it failed: " + system_reason(errno));
  }
  temporary.release();

  // The rename is an entry in the directory; only an fsync of the directory makes it durable.
  // A directory we may write but not read (mode -wx) cannot be opened for that; the rename
  // stands and the kernel flushes it in its own time, so that is not worth failing a save for.
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return;
  FileDescriptor directory_descriptor(directory_fd);
  // Some filesystems cannot fsync a directory (EINVAL); there is nothing more to do there.
  if (::fsync(directory_descriptor.get()) != 0 && errno != EINVAL) {
    throw Error(context + ": the new file is in place, but syncing directory " + directory.string() +
                " failed, so it may not survive a power loss: " + system_reason(errno));
  }
}

int remove_stale_temporaries(const std::filesystem::path& directory) {
  int removed = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    const std::size_t mark = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || mark == std::string::npos) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + mark + 5, &end, 10);
    if (pid <= 0 || end == nullptr || *end != '-') continue;
    // ESRCH: no such process. EPERM means it exists under another user: not ours to remove.
    if (static_cast<pid_t>(pid) == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (std::filesystem::remove(entry.path(), ignored)) ++removed;
  }
  return removed;
}

}  // namespace train_gpu
