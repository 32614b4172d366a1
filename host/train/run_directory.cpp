#include "host/train/run_directory.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string_view>
#include <system_error>
#include <utility>
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

bool CheckpointPosition::operator<(const CheckpointPosition& other) const {
  if (epoch != other.epoch) return epoch < other.epoch;
  // The end of an epoch (batches 0) comes after every batch of it.
  if ((batches == 0) != (other.batches == 0)) return other.batches == 0;
  return batches < other.batches;
}

namespace {

// Reads the digits at the front of `text` into `value` and drops them; false when there are none
// or they overflow.
bool take_number(std::string_view& text, int64_t& value) {
  const char* end = text.data() + text.size();
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc()) return false;
  text.remove_prefix(static_cast<size_t>(stop - text.data()));
  return true;
}

bool take_prefix(std::string_view& text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) != prefix) return false;
  text.remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::optional<CheckpointPosition> parse_checkpoint_name(const std::string& file_name) {
  std::string_view text = file_name;
  CheckpointPosition position;
  if (!take_prefix(text, "epoch-") || !take_number(text, position.epoch)) return std::nullopt;
  if (take_prefix(text, "-batch-") && (!take_number(text, position.batches) || position.batches == 0)) return std::nullopt;
  if (text != ".safetensors") return std::nullopt;
  return position;
}

std::vector<fs::path> checkpoints_in_training_order(const fs::path& directory) {
  std::vector<std::pair<CheckpointPosition, fs::path>> found;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    const std::optional<CheckpointPosition> position = parse_checkpoint_name(entry.path().filename().string());
    std::error_code type_error;
    if (position && entry.is_regular_file(type_error)) found.emplace_back(*position, entry.path());
  }
  // Ties (epoch-7 and epoch-007) fall back to the name, so the order never depends on the listing.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first == b.first) return a.second < b.second;
    return a.first < b.first;
  });
  std::vector<fs::path> files;
  for (auto& [position, file] : found) files.push_back(std::move(file));
  return files;
}

fs::path resolve_resume_source(const fs::path& source) {
  std::error_code error;
  if (fs::is_regular_file(source, error)) return source;
  if (!fs::is_directory(source, error)) {
    throw Error("--resume " + source.string() + ": no such run directory or checkpoint file");
  }
  const fs::path directory = fs::is_directory(source / "checkpoints", error) ? source / "checkpoints" : source;
  const std::vector<fs::path> checkpoints = checkpoints_in_training_order(directory);
  if (checkpoints.empty()) {
    throw Error("--resume " + source.string() + ": no checkpoint (epoch-NNN.safetensors) found there");
  }
  return checkpoints.back();
}

}  // namespace train_gpu
