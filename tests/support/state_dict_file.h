// A "foreign" weights file as PyTorch writes it: safetensors' save_file(net.state_dict()) for the
// README's Net -- the six parameter tensors in PyTorch names and shapes, F32, and no __metadata__
// unless the test asks for some.
#pragma once

#include <filesystem>
#include <vector>

#include "host/model/model_spec.h"
#include "host/train/safetensors.h"
#include "support/test_support.h"

namespace train_gpu::testing {

// `parameters` in the arena layout of model_spec.h. The tensors go in reverse arena order, so a
// reader that went by position rather than by name would be caught.
inline void write_state_dict(const std::filesystem::path& file, const std::vector<float>& parameters,
                             const safetensors::Metadata& metadata = {}) {
  std::vector<safetensors::F32TensorView> tensors;
  for (int i = model::kTensorCount - 1; i >= 0; --i) {
    const model::TensorSpec& spec = model::kParameterTensors[i];
    tensors.push_back({spec.name, std::vector<int64_t>(spec.shape, spec.shape + spec.rank), parameters.data() + spec.offset});
  }
  const std::vector<unsigned char> bytes = safetensors::encode(tensors, metadata);
  write_file(file, Bytes(bytes.begin(), bytes.end()));
}

}  // namespace train_gpu::testing
