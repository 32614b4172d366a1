// Owns a POSIX file descriptor. The destructor's close covers error paths, where its status no
// longer matters; a writer's success path calls close() and checks it, because NFS and some FUSE
// filesystems report write errors only there.
#pragma once

#include <unistd.h>

#include <cerrno>

namespace train_gpu {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Returns 0 or the errno of a failed close.
  int close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace train_gpu
