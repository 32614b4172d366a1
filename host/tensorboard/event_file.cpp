#include "host/tensorboard/event_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <regex>
#include <system_error>

#include "host/common/error.h"
#include "host/tensorboard/record_file.h"

namespace train_gpu::tensorboard {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "events.out.tfevents.";

// The seconds field of an event file's name; -1 when it has none.
int64_t seconds_in_name(const std::string& name) {
  const std::size_t start = std::string(kPrefix).size();
  if (name.rfind(kPrefix, 0) != 0) return -1;
  std::size_t end = start;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  if (end == start || end - start > 18) return -1;
  return std::stoll(name.substr(start, end - start));
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  // A '/' would make a directory of the name; dots are fine (TensorFlow keeps them).
  std::replace(host.begin(), host.end(), '/', '_');
  return host;
}

}  // namespace

std::string event_file_name(int64_t unix_seconds, const std::string& host, long pid) {
  char seconds[24];
  std::snprintf(seconds, sizeof seconds, "%010lld", static_cast<long long>(unix_seconds));
  return std::string(kPrefix) + seconds + "." + host + "." + std::to_string(pid) + ".0";
}

bool has_event_file_name(const std::string& name) {
  static const std::regex pattern(R"(events\.out\.tfevents\.[0-9]{10,}\..+\.[0-9]+\.0)");
  return std::regex_match(name, pattern);
}

std::vector<fs::path> event_files(const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  for (fs::directory_iterator entry(directory, error), end; !error && entry != end; entry.increment(error)) {
    const std::string name = entry->path().filename().string();
    // Not the hidden temporaries of a rewrite in progress (atomic_file.h names them ".<name>.tmp-*").
    if (name.find("tfevents") != std::string::npos && name[0] != '.' && entry->is_regular_file()) {
      files.push_back(entry->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const fs::path& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error || !fs::is_directory(directory)) {
    throw Error(directory.string() + ": cannot create the TensorBoard directory: " +
                (error ? error.message() : std::string("a file of that name is in the way")));
  }
  int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const fs::path& existing : event_files(directory)) seconds = std::max(seconds, seconds_in_name(existing.filename().string()) + 1);
  path_ = directory / event_file_name(seconds, host_name(), static_cast<long>(::getpid()));
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(path_.string() + ": cannot create: " + std::strerror(errno));

  Event first;
  first.set_wall_time(wall_time_now());
  first.set_file_version(kFileVersion);
  first.mutable_source_metadata()->set_writer(kWriterName);
  write(first);
  flush();
}

EventFileWriter::~EventFileWriter() {
  try {
    out_.flush();
  } catch (...) {  // a destructor must not throw; flush() reports failures to callers that ask
  }
}

void EventFileWriter::write(const Event& event) {
  const std::string record = frame_record(event.SerializeAsString());
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  if (!out_) throw Error(path_.string() + ": write failed: " + std::strerror(errno) + " (disk full?)");
}

void EventFileWriter::flush() {
  out_.flush();
  if (!out_) throw Error(path_.string() + ": write failed: " + std::strerror(errno) + " (disk full?)");
}

EventFileContents read_event_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot open: " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(file.string() + ": read failed: " + std::strerror(errno));
  const RecordSalvage salvage = salvage_records(bytes);
  EventFileContents contents;
  std::vector<std::string> damage = salvage.damage;
  for (std::size_t i = 0; i < salvage.records.size(); ++i) {
    Event event;
    if (!event.ParseFromString(salvage.records[i])) {
      damage.push_back("record " + std::to_string(i + 1) + " is not an Event");
      continue;
    }
    if (i == 0 && event.has_file_version()) contents.writer = event.source_metadata().writer();
    contents.events.push_back(std::move(event));
  }
  for (const std::string& problem : damage) contents.damage += (contents.damage.empty() ? "" : "; ") + problem;
  return contents;
}

}  // namespace train_gpu::tensorboard
