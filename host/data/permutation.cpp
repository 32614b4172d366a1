#include "host/data/permutation.h"

#include <cstddef>
#include <numeric>
#include <utility>

#include "host/common/random.h"

namespace train_gpu {

std::vector<int32_t> epoch_permutation(uint64_t seed, int64_t epoch, int32_t count) {
  std::vector<int32_t> order = identity_order(count);
  Rng rng(seed, static_cast<uint64_t>(epoch));
  for (int32_t i = count - 1; i > 0; --i) {
    const auto j = static_cast<int32_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

std::vector<int32_t> identity_order(int32_t count) {
  std::vector<int32_t> order(static_cast<size_t>(count < 0 ? 0 : count));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

}  // namespace train_gpu
