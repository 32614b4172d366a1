// libFuzzer target for the TFRecord reader under the event files (host/tensorboard/record_file.h),
// which a resume runs over whatever a killed writer left: any byte string must scan without a
// crash; the intact records, framed again, must reproduce the scanned prefix byte for byte (so a
// resume's rewrite keeps exactly what was intact); whatever follows must be described as damage;
// each record must parse as an Event or be rejected by protobuf, never crash it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "host/tensorboard/event_file.h"
#include "host/tensorboard/record_file.h"

namespace tb = train_gpu::tensorboard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const tb::RecordScan scan = tb::read_records(bytes);
  if (scan.intact_bytes > size) __builtin_trap();
  if ((scan.intact_bytes < size) == scan.damage.empty()) __builtin_trap();
  std::string framed;
  for (const std::string& record : scan.records) {
    framed += tb::frame_record(record);
    tb::Event event;
    if (event.ParseFromString(record)) event.SerializeAsString();
  }
  if (framed != bytes.substr(0, scan.intact_bytes)) __builtin_trap();
  return 0;
}
