#include "cuda/distributed/nccl_all_reduce.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "cuda/check.h"
#include "cuda/distributed/nccl_check.h"

namespace train_gpu::cuda {

NcclAllReduce::NcclAllReduce(distributed::Collectives& collectives)
    : rank_(collectives.rank()), size_(collectives.size()) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id), nullptr);
  collectives.broadcast(&id, sizeof id, "NCCL's unique id");
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_), nullptr);
}

NcclAllReduce::~NcclAllReduce() {
  if (comm_ == nullptr) return;
  // Never throws: a failed communicator is aborted (destroying it would wait on dead peers).
  if (failed_) {
    (void)ncclCommAbort(comm_);
  } else if (ncclCommDestroy(comm_) != ncclSuccess) {
    (void)ncclCommAbort(comm_);
  }
}

void NcclAllReduce::sum(float* gradients, std::size_t count, cudaStream_t stream) {
  if (failed_) throw Error("NCCL all-reduce after a failure on rank " + std::to_string(rank_));
  NCCL_CHECK(ncclAllReduce(gradients, gradients, count, ncclFloat, ncclSum, comm_, stream), comm_);
}

void NcclAllReduce::wait(cudaStream_t stream, double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    const cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) CUDA_CHECK(status);
    ncclResult_t async_error = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(comm_, &async_error), comm_);
    if (async_error != ncclSuccess && async_error != ncclInProgress) {
      abort_and_throw(std::string("NCCL reported ") + ncclGetErrorString(async_error));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      abort_and_throw("no answer from the other ranks for " + std::to_string(timeout_seconds) +
                      " s (--dist-timeout): one of them died or hangs");
    }
    // Polling, not cudaStreamSynchronize: a synchronize on a dead peer's all-reduce never returns.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void NcclAllReduce::abort_and_throw(const std::string& why) {
  failed_ = true;
  (void)ncclCommAbort(comm_);
  comm_ = nullptr;
  throw Error("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": the gradient all-reduce failed: " + why);
}

}  // namespace train_gpu::cuda
