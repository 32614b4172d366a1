// libFuzzer target for the CIFAR-10 readers (host/data/cifar10_records.h): any batch bytes must
// either append whole, consistent records or be rejected with train_gpu::Error, and any names
// file must give ten non-empty names or an Error. A crash, a sanitizer report, another exception
// type, or a set that contradicts itself (a label over 9, pixels not 3072 per record, records
// half-appended after an error) is a finding.
//
// Input: one mode byte, then the bytes. mode bit 0: 0 reads them as a batch file, 1 as
// batches.meta.txt.
#include <cstddef>
#include <cstdint>
#include <string>

#include "host/common/error.h"
#include "host/data/cifar10_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool names = (data[0] & 1) != 0;
  const uint8_t* bytes = data + 1;
  const size_t length = size - 1;
  try {
    if (names) {
      const auto parsed = train_gpu::parse_cifar10_class_names(std::string(bytes, bytes + length), "batches.meta.txt");
      if (parsed.size() != 10) __builtin_trap();
      for (const std::string& name : parsed) {
        if (name.empty()) __builtin_trap();
      }
    } else {
      train_gpu::ImageSet set = train_gpu::cifar10_image_set();
      try {
        train_gpu::append_cifar10_records(bytes, length, "data_batch_1.bin", set);
      } catch (const train_gpu::Error&) {
        if (set.count != 0 || !set.pixels.empty() || !set.labels.empty()) __builtin_trap();  // half-appended
        throw;
      }
      if (set.count * 3073 != static_cast<int64_t>(length)) __builtin_trap();
      if (set.pixels.size() != static_cast<size_t>(set.count) * 3072 || set.labels.size() != static_cast<size_t>(set.count)) {
        __builtin_trap();
      }
      for (const uint8_t label : set.labels) {
        if (label > 9) __builtin_trap();
      }
    }
  } catch (const train_gpu::Error&) {
    // Rejected with a user-facing message: the expected outcome for most inputs.
  }
  return 0;
}
