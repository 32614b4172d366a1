#include "host/train/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "host/common/error.h"

namespace train_gpu {

namespace {

// The pid the holder wrote, as text; empty when it has not written it yet (it writes right after
// taking the lock) or the file is unreadable.
std::string holder_pid(int fd) {
  char text[32] = {};
  const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
  if (got <= 0) return {};
  std::string pid(text, static_cast<size_t>(got));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

std::filesystem::path RunLock::file_in(const std::filesystem::path& run_dir) { return run_dir / ".train_gpu.lock"; }

RunLock::RunLock(const std::filesystem::path& run_dir) : file_(file_in(run_dir)) {
  const std::string context = "run directory " + run_dir.string();
  // Staleness needs no check of its own: the kernel drops an flock when its holder dies, however
  // it dies (kill -9 included). A lock file that a killed run left behind is only a file with a
  // dead pid in it, and the next run locks it and writes its own pid over that one.
  for (;;) {
    // O_NOFOLLOW: the pid is written over the file's contents, so a symlink planted under the
    // lock's name must not lead that write to some other file.
    descriptor_.emplace(::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));  // closes a previous try's
    const int fd = descriptor_->get();
    if (fd < 0) throw Error(context + ": cannot create its lock file " + file_.string() + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        throw Error(context + ": cannot lock " + file_.string() + ": " + std::strerror(errno));
      }
      const std::string pid = holder_pid(fd);
      throw Error(context + " is in use by another training (pid " + (pid.empty() ? std::string("unknown") : pid) +
                  ", lock " + file_.string() + "): wait for it to end or stop it, or choose another --run-dir");
    }
    // The holder before us removes the file before releasing it; if we locked that removed file,
    // a third run could lock a new one under the same name at the same time. Only a lock on the
    // file the name still points to counts.
    struct stat locked {}, named {};
    if (::fstat(fd, &locked) == 0 && ::stat(file_.c_str(), &named) == 0 && locked.st_dev == named.st_dev &&
        locked.st_ino == named.st_ino) {
      break;
    }
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(descriptor_->get(), 0) != 0 || ::pwrite(descriptor_->get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throw Error(context + ": cannot write this process's pid into " + file_.string() + ": " + std::strerror(errno));
  }
}

RunLock::~RunLock() {
  // Removed while still held, so no other run can lock the name between the two steps.
  if (descriptor_ && descriptor_->get() >= 0) ::unlink(file_.c_str());
}

}  // namespace train_gpu
