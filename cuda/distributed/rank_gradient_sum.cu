#include "cuda/distributed/rank_gradient_sum.h"

#include "host/common/error.h"
#ifdef TRAIN_GPU_HAVE_NCCL
#include "cuda/distributed/nccl_all_reduce.h"
#endif

namespace train_gpu::cuda {

#ifdef TRAIN_GPU_HAVE_NCCL

RankGradientSum::RankGradientSum(distributed::Collectives& collectives)
    : collectives_(collectives), all_reduce_(std::make_unique<NcclAllReduce>(collectives)) {}

RankGradientSum::~RankGradientSum() = default;

void RankGradientSum::sum(float* gradients, std::size_t count, cudaStream_t stream) {
  all_reduce_->sum(gradients, count, stream);
}

void RankGradientSum::wait(cudaStream_t stream) { all_reduce_->wait(stream, collectives_.timeout_seconds()); }

#else

RankGradientSum::RankGradientSum(distributed::Collectives& collectives) : collectives_(collectives) {
  throw Error(collectives.rank_phrase() + ": GPU ranks sum their gradients with NCCL, which this build lacks "
              "(configure found no NCCL or no MPI); give --device cpu, or rebuild with both");
}

// Never reached (the constructor throws), but sum() and wait() must exist for the callers.
RankGradientSum::~RankGradientSum() = default;
void RankGradientSum::sum(float*, std::size_t, cudaStream_t) {}
void RankGradientSum::wait(cudaStream_t) {}

#endif

}  // namespace train_gpu::cuda
