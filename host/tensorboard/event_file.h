// events.out.tfevents.* files: naming them, writing one as TensorFlow's EventsWriter does (a
// file_version record first, then one record per Event), and reading one back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/tensorboard/proto/event.pb.h"

namespace train_gpu::tensorboard {

// The generated classes live in the .proto files' package, ::tensorboard.
using ::tensorboard::Event;
using ::tensorboard::HistogramProto;
using ::tensorboard::Summary;

inline constexpr const char* kFileVersion = "brain.Event:2";
// source_metadata.writer of the file_version record: what tells our files from other writers'.
inline constexpr const char* kWriterName = "train_gpu";

// "events.out.tfevents.<10-digit seconds>.<host>.<pid>.0": TensorFlow's pattern; TensorBoard
// only needs "tfevents" in the name and reads a directory's files in name order.
std::string event_file_name(int64_t unix_seconds, const std::string& host, long pid);

// True for a name event_file_name could have made. PyTorch's and tensorboardX's writers use the
// same pattern, so only the file_version record's writer (EventFileContents::writer) tells whose
// a file is.
bool has_event_file_name(const std::string& name);

// The files directly in `directory` that TensorBoard reads as event files (any regular file with
// "tfevents" in its name, ours or not), in name order (the order TensorBoard reads them); none
// when it does not exist.
std::vector<std::filesystem::path> event_files(const std::filesystem::path& directory);

// Seconds since the Unix epoch, with sub-second precision, for Event.wall_time.
double wall_time_now();

class EventFileWriter {
 public:
  // Creates `directory` when missing and a new event file in it whose name sorts after every
  // event file already there (its seconds field is raised past theirs when needed), so TensorBoard
  // reads the new steps last. Writes the file_version record. Errors name the file.
  explicit EventFileWriter(const std::filesystem::path& directory);
  ~EventFileWriter();  // flushes; never throws
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Buffered; flush() hands the bytes to the operating system so a running TensorBoard sees them.
  void write(const Event& event);
  void flush();

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

struct EventFileContents {
  std::vector<Event> events;  // every record that could be read and parsed, in order
  std::string damage;         // empty, or each record left out and why ("; " between them)
  std::string writer;         // the first record's source_metadata.writer when it is the file_version
                              // record; empty when it is not, or cannot be read
  bool written_by_us() const { return writer == kWriterName; }
};

// Parses every readable record of `file` as an Event (salvage_records: past a record whose data
// fails its CRC, up to lost framing); records that fail or are not an Event are left out and
// described in `damage`. Only a file that cannot be opened or read is an Error.
EventFileContents read_event_file(const std::filesystem::path& file);

}  // namespace train_gpu::tensorboard
