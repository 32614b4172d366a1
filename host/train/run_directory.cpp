#include "host/train/run_directory.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>
#include <vector>

#include "host/common/error.h"

namespace train_gpu {

namespace fs = std::filesystem;

fs::path default_run_directory() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  fs::path candidate = fs::path("runs") / stamp;
  for (int suffix = 2; fs::exists(candidate); ++suffix) {
    candidate = fs::path("runs") / (std::string(stamp) + "-" + std::to_string(suffix));
  }
  return candidate;
}

void prepare_run_directory(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir / "checkpoints", error);
  if (error) {
    throw Error("run directory " + dir.string() + " cannot be created: " + error.message() +
                ". Choose another with --run-dir");
  }
  // A probe write, because create_directories succeeds on an existing read-only directory.
  const fs::path probe = dir / "checkpoints" / ".write-probe";
  std::FILE* file = std::fopen(probe.c_str(), "wb");
  const int open_errno = errno;
  bool written = file != nullptr && std::fputs("probe\n", file) >= 0;
  if (file != nullptr) written = (std::fclose(file) == 0) && written;
  if (!written) {
    throw Error("run directory " + dir.string() + " is not writable: " +
                (file == nullptr ? std::strerror(open_errno) : "write failed (disk full?)") +
                ". Choose another with --run-dir");
  }
  fs::remove(probe, error);
}

fs::path checkpoint_path(const fs::path& run_dir, int64_t epoch) {
  char name[64];
  std::snprintf(name, sizeof name, "epoch-%03lld.safetensors", static_cast<long long>(epoch));
  return run_dir / "checkpoints" / name;
}

fs::path interrupted_checkpoint_path(const fs::path& run_dir, int64_t epoch_in_progress, int64_t batches) {
  char name[80];
  std::snprintf(name, sizeof name, "epoch-%03lld-batch-%05lld.safetensors", static_cast<long long>(epoch_in_progress),
                static_cast<long long>(batches));
  return run_dir / "checkpoints" / name;
}

fs::path resolve_resume_source(const fs::path& source) {
  std::error_code error;
  if (fs::is_regular_file(source, error)) return source;
  if (!fs::is_directory(source, error)) {
    throw Error("--resume " + source.string() + ": no such run directory or checkpoint file");
  }
  const fs::path directory = fs::is_directory(source / "checkpoints", error) ? source / "checkpoints" : source;
  // Names sort in training order: epoch-003-batch-00120 (mid epoch 3) < epoch-003 (end of 3).
  fs::path newest;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind("epoch-", 0) == 0 && entry.path().extension() == ".safetensors" &&
        (newest.empty() || name > newest.filename().string())) {
      newest = entry.path();
    }
  }
  if (newest.empty()) throw Error("--resume " + source.string() + ": no checkpoint (epoch-*.safetensors) found there");
  return newest;
}

}  // namespace train_gpu
