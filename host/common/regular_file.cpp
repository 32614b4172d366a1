#include "host/common/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "host/common/error.h"

namespace train_gpu {

namespace {

// The descriptor of `file` once it is known to be a regular file, with its size; an Error (and
// the descriptor closed) otherwise. A raw int because FileDescriptor cannot be moved out.
int checked_descriptor(const std::filesystem::path& file, const std::string& expected, uint64_t& size) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(file.string() + ": cannot open: " + std::strerror(errno));
  const auto fail = [&](const std::string& what) {
    ::close(fd);
    throw Error(file.string() + ": " + what);
  };
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail("is " + file_type_name(info.st_mode) + ", expected " + expected);
  // O_NONBLOCK was for the open alone; regular files ignore it, but a descriptor handed on should
  // not carry a surprise.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    fail(std::string("cannot set blocking mode: ") + std::strerror(errno));
  }
  size = static_cast<uint64_t>(info.st_size);
  return fd;
}

}  // namespace

std::string file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

RegularFile open_regular_file(const std::filesystem::path& file, const std::string& expected) {
  uint64_t size = 0;
  const int fd = checked_descriptor(file, expected, size);
  return RegularFile{FileDescriptor(fd), size};
}

std::size_t read_up_to(int fd, void* destination, std::size_t size, const std::filesystem::path& file) {
  auto* bytes = static_cast<unsigned char*>(destination);
  std::size_t filled = 0;
  while (filled < size) {
    const ssize_t got = ::read(fd, bytes + filled, size - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error(file.string() + ": read failed: " + std::strerror(errno));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  return filled;
}

std::vector<uint8_t> read_regular_file(const std::filesystem::path& file, const std::string& expected) {
  const RegularFile opened = open_regular_file(file, expected);
  std::vector<uint8_t> bytes(static_cast<std::size_t>(opened.size));
  // A file that shrinks while read is returned short; the parsers report the damage.
  bytes.resize(read_up_to(opened.descriptor.get(), bytes.data(), bytes.size(), file));
  return bytes;
}

}  // namespace train_gpu
