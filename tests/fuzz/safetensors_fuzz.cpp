// libFuzzer target for the safetensors reader (host/train/safetensors.h): any byte string must
// either parse into a File whose tensors lie inside the data section, or be rejected with
// train_gpu::Error. Whatever parses must survive encode() -> parse() unchanged (F32 tensors and
// metadata), the round trip the checkpoint code relies on. A crash, a sanitizer report, another
// exception type or a broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/train/safetensors.h"

namespace st = train_gpu::safetensors;

namespace {

void check_round_trip(const st::File& file) {
  std::vector<std::vector<float>> values;
  std::vector<st::F32TensorView> views;
  values.reserve(file.tensors().size());
  for (const auto& [name, info] : file.tensors()) {
    if (info.dtype != "F32") continue;
    const std::size_t count = static_cast<std::size_t>((info.end - info.begin) / sizeof(float));
    values.emplace_back(count);
    file.copy_f32(name, values.back().data(), count);  // a tensor the reader accepted must be readable
    views.push_back({name, info.shape, values.back().data()});
  }
  const std::vector<unsigned char> encoded = st::encode(views, file.metadata());
  const st::File again = st::File::parse(encoded, "re-encoded fuzz input");
  if (again.metadata() != file.metadata()) __builtin_trap();
  if (again.tensors().size() != views.size()) __builtin_trap();
  for (std::size_t i = 0; i < views.size(); ++i) {
    const auto found = again.tensors().find(views[i].name);
    if (found == again.tensors().end() || found->second.shape != views[i].shape) __builtin_trap();
    std::vector<float> reread(values[i].size());
    again.copy_f32(views[i].name, reread.data(), reread.size());
    if (!reread.empty() && std::memcmp(reread.data(), values[i].data(), reread.size() * sizeof(float)) != 0) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  try {
    const st::File file = st::File::parse(std::move(bytes), "fuzz input");
    for (const auto& [name, info] : file.tensors()) {
      if (info.begin > info.end || info.end > file.data_section_size()) __builtin_trap();
      if (st::dtype_size(info.dtype) == 0) __builtin_trap();  // a dtype the format does not define
      if (info.dtype == "F32") {
        // One element too many must be refused, not read past the tensor.
        const std::size_t count = static_cast<std::size_t>((info.end - info.begin) / sizeof(float));
        std::vector<float> too_many(count + 1);
        try {
          file.copy_f32(name, too_many.data(), too_many.size());
          __builtin_trap();
        } catch (const train_gpu::Error&) {
        }
      }
    }
    check_round_trip(file);
  } catch (const train_gpu::Error&) {
    // Rejected with a user-facing message: the expected outcome for most inputs.
  }
  return 0;
}
