// What the oneDNN layers keep per batch size: oneDNN's primitive descriptors fix every dimension,
// the batch's too, so each layer builds its primitives on a batch size's first use and reuses
// them for every later step of that size (a training run sees two or three sizes: the batch, the
// epoch's last partial batch, the evaluation batch).
#pragma once

#include <map>
#include <memory>

namespace train_gpu::cpu {

template <typename Primitives>
class PerBatchCache {
 public:
  // The primitives for `count` images, built by make() (returning unique_ptr<Primitives>) the first time.
  template <typename Make>
  Primitives& get(int count, const Make& make) {
    std::unique_ptr<Primitives>& cached = cache_[count];
    if (!cached) cached = make();
    return *cached;
  }

 private:
  std::map<int, std::unique_ptr<Primitives>> cache_;
};

}  // namespace train_gpu::cpu
