// One training per run directory at a time. Two runs (or a --resume of a run that is still alive)
// writing one directory interleave their metrics.csv rows, delete each other's TensorBoard files
// and overwrite each other's checkpoints, and both exit 0. The lock is an flock(2) on
// RUN_DIR/.train_gpu.lock, which holds the holder's pid so that a refused run can name it.
#pragma once

#include <filesystem>
#include <optional>

#include "host/common/file_descriptor.h"

namespace train_gpu {

class RunLock {
 public:
  // Takes the lock for the life of this object, creating the file, and writes this process's pid
  // into it. `run_dir` must exist. Throws Error naming the directory and the holder's pid when
  // another process holds it, and Error with the system's reason when the file cannot be made.
  explicit RunLock(const std::filesystem::path& run_dir);
  // Removes the file, then releases the lock.
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  static std::filesystem::path file_in(const std::filesystem::path& run_dir);

 private:
  std::filesystem::path file_;
  std::optional<FileDescriptor> descriptor_;
};

}  // namespace train_gpu
