// Grid sizing shared by the elementwise kernels: 256 threads per block and enough blocks to
// cover n once, capped so huge n fall back on the kernels' grid-stride loops rather than
// overflowing gridDim.x.
#pragma once

#include <algorithm>
#include <cstddef>

namespace train_gpu::cuda {

constexpr int kThreadsPerBlock = 256;
constexpr std::size_t kMaxBlocks = 65535;

inline unsigned int blocks_for(std::size_t n) {
  const std::size_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned int>(std::clamp<std::size_t>(blocks, 1, kMaxBlocks));
}

}  // namespace train_gpu::cuda
