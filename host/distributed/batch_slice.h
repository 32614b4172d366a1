// Which samples of a global batch a rank trains on. --batch-size is the GLOBAL batch: every rank
// visits the same seeded permutation and takes one contiguous slice of each batch, so the ranks
// together see exactly the batches one process sees, whatever their number (a resume on another
// rank count included). Shared by the CPU and CUDA backends (plain C++, no MPI).
#pragma once

#include <cstdint>

namespace train_gpu::distributed {

struct BatchSlice {
  int offset = 0;  // the slice's first sample, counted from the batch's first
  int count = 0;   // may be 0: a batch smaller than the world leaves some ranks without samples
};

// Rank r of n takes [floor(r * count / n), floor((r + 1) * count / n)): in rank order, covering
// the batch exactly once, the shares differing by at most one sample.
inline BatchSlice rank_slice(int count, int rank, int size) {
  const int64_t begin = int64_t(count) * rank / size;
  const int64_t end = int64_t(count) * (rank + 1) / size;
  return BatchSlice{static_cast<int>(begin), static_cast<int>(end - begin)};
}

}  // namespace train_gpu::distributed
