// libFuzzer target for the Keras JSON reader (host/model/keras_json.h) that --model runs on files
// a user hands it: any byte string must either read into a spec or be rejected with
// train_gpu::Error. A spec it reads must come back the same through our own writers: keras_json()
// read again gives the same JSON, and spec_line() (where the names fit on one line) the same
// spec. A crash, a sanitizer report, another exception type or a broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "host/common/error.h"
#include "host/model/keras_json.h"
#include "host/model/spec_line.h"

namespace model = train_gpu::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  model::NetworkSpec spec;
  try {
    spec = model::network_from_keras_json(text, "fuzz input", nullptr);
  } catch (const train_gpu::Error&) {
    return 0;  // rejected with a user-facing message: the expected outcome for most inputs
  }
  const std::string written = model::keras_json(spec);
  const model::NetworkSpec again = model::network_from_keras_json(written, "written", nullptr);
  if (model::keras_json(again) != written) __builtin_trap();
  std::string line;
  try {
    line = model::spec_line(spec);
  } catch (const train_gpu::Error&) {
    return 0;  // a Keras name with a comma or a space has no one-line form
  }
  if (model::keras_json(model::network_from_line(line, spec.input)) != written) __builtin_trap();
  return 0;
}
