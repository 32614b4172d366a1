// Opening the files a user names (images, labels, arrays, checkpoints) for reading without ever
// blocking. A plain open() of a FIFO waits for a writer, and a read of a terminal waits for
// input, so the type is checked on the opened descriptor before anything is read: opened with
// O_NONBLOCK (which makes the open of a FIFO return at once), fstat'ed, refused unless it is a
// regular file, and only then switched back to blocking reads. Checking the path with stat()
// first would leave a window for the file to be swapped, and would still need the open.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "host/common/file_descriptor.h"

namespace train_gpu {

// What a file of mode `mode` (st_mode) is, as an article and a noun: "a directory", "a FIFO
// (named pipe)", "a character device", "a block device", "a socket", "a symbolic link",
// "a regular file".
std::string file_type_name(mode_t mode);

struct RegularFile {
  FileDescriptor descriptor;  // blocking reads, close-on-exec
  uint64_t size = 0;          // st_size when opened
};

// Opens `file` for reading, as above. Anything but a regular file (after following symlinks) is
// an Error "FILE: is a FIFO (named pipe), expected <expected>"; a failed open is "FILE: cannot
// open: " and the system's reason ("No such file or directory").
RegularFile open_regular_file(const std::filesystem::path& file, const std::string& expected = "a regular file");

// Reads into `destination` until `size` bytes or the end of the file; returns how many it read.
// A read error is an Error naming `file`.
std::size_t read_up_to(int fd, void* destination, std::size_t size, const std::filesystem::path& file);

// The whole of `file`, opened as above. The buffer is sized from fstat, never from the content.
std::vector<uint8_t> read_regular_file(const std::filesystem::path& file, const std::string& expected = "a regular file");

}  // namespace train_gpu
