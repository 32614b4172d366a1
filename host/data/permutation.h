// Each epoch's visiting order: a full Fisher-Yates permutation of the training set (the
// tutorial's shuffle buffer equals the dataset size), drawn from a stream seeded by
// (seed, epoch) alone, so any epoch can be reproduced or resumed without replaying the others.
#pragma once

#include <cstdint>
#include <vector>

namespace train_gpu {

std::vector<int32_t> epoch_permutation(uint64_t seed, int64_t epoch, int32_t count);

// 0, 1, ..., count-1: the order of evaluation passes.
std::vector<int32_t> identity_order(int32_t count);

}  // namespace train_gpu
