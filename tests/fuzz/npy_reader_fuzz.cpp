// libFuzzer target for the .npy reader (host/eval/npy_reader.h) that `predict` runs on files a
// user hands it: any byte string must either parse into an array whose values match its shape,
// or be rejected with train_gpu::Error. Whatever parses as uint8 or float32 must come back
// unchanged through our writer (host/eval/npy.h). A crash, a sanitizer report, another exception
// type or a broken invariant is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/eval/npy.h"
#include "host/eval/npy_reader.h"

namespace eval = train_gpu::eval;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const eval::NpyArray array = eval::parse_npy(bytes, "fuzz input");
    std::size_t count = 1;
    for (const int64_t dim : array.shape) {
      if (dim < 0) __builtin_trap();
      count *= static_cast<std::size_t>(dim);
    }
    if (count != array.values.size()) __builtin_trap();
    if (array.descr == "|u1" || array.descr == "<f4") {
      // Re-encode with the writer's preamble and parse again: the same shape and values.
      std::string again = eval::npy_preamble(array.descr, array.shape);
      for (const double value : array.values) {
        if (array.descr == "|u1") {
          again += static_cast<char>(static_cast<uint8_t>(value));
        } else {
          const float f = static_cast<float>(value);
          again.append(reinterpret_cast<const char*>(&f), sizeof f);
        }
      }
      const eval::NpyArray back = eval::parse_npy(std::vector<uint8_t>(again.begin(), again.end()), "re-encoded");
      if (back.shape != array.shape || back.values.size() != array.values.size()) __builtin_trap();
      for (std::size_t i = 0; i < back.values.size(); ++i) {
        // NaN != NaN; compare bit patterns through the float they came from.
        if (back.values[i] != array.values[i] && !(back.values[i] != back.values[i] && array.values[i] != array.values[i])) {
          __builtin_trap();
        }
      }
    }
  } catch (const train_gpu::Error&) {
    // Rejected with a user-facing message: the expected outcome for most inputs.
  }
  return 0;
}
