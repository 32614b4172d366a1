// The part of a GPU rank's training step that involves the other ranks, shared by the tutorial's
// backend (cuda/cuda_backend.cu) and the spec network's (cuda/network/network_backend.cu), so
// that both split a global batch and sum its gradients the same way the CPU ranks do
// (host/model/cpu_backend.cpp):
//   - slice(): this rank's contiguous share of each global batch (host/distributed/batch_slice.h);
//     the backend divides the loss by the GLOBAL batch, so the summed gradients are one process's;
//   - sum(): the in-place sum of the whole gradient arena over the ranks, enqueued between
//     backward and the clip/optimizer: ONE ncclAllReduce, the arena being one allocation
//     (nccl_all_reduce.h);
//   - wait(): the host waits for that sum, bounded by --dist-timeout, so a dead peer ends the job
//     with one line instead of hanging it. Steps of several ranks therefore run eagerly.
// Built with or without NCCL: without it, construction throws the one error a user sees.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "host/distributed/batch_slice.h"
#include "host/distributed/collectives.h"

namespace train_gpu::cuda {

class NcclAllReduce;  // nccl_all_reduce.h, compiled only with NCCL

class RankGradientSum {
 public:
  // Collective over `collectives` (every rank constructs one); the caller has made its GPU
  // current. Throws where this build has no NCCL.
  explicit RankGradientSum(distributed::Collectives& collectives);
  ~RankGradientSum();
  RankGradientSum(const RankGradientSum&) = delete;
  RankGradientSum& operator=(const RankGradientSum&) = delete;

  // This rank's samples of a global batch of `count` (maybe none).
  distributed::BatchSlice slice(int count) const {
    return distributed::rank_slice(count, collectives_.rank(), collectives_.size());
  }

  // Enqueues the in-place sum over the ranks of `count` floats at device address `gradients`.
  // No host sync.
  void sum(float* gradients, std::size_t count, cudaStream_t stream);

  // Waits for `stream` (the step's sum) for at most --dist-timeout; throws naming this rank past
  // it. Synchronizes.
  void wait(cudaStream_t stream);

 private:
  distributed::Collectives& collectives_;
#ifdef TRAIN_GPU_HAVE_NCCL
  std::unique_ptr<NcclAllReduce> all_reduce_;
#endif
};

}  // namespace train_gpu::cuda
