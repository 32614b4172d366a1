// Where GPU ranks all-reduce their gradients: one NCCL communicator per process on its current
// device, bootstrapped through the job's MPI collectives (rank 0's ncclGetUniqueId broadcast,
// then ncclCommInitRank on every rank), and one in-place ncclAllReduce over the whole gradient
// arena per step (one fused buffer: the arena is already one allocation, see STYLE.md).
//
// Failure: a rank that dies leaves the others' all-reduce waiting on the device; wait() polls the
// stream and ncclCommGetAsyncError up to a deadline, then aborts the communicator
// (ncclCommAbort, which also releases the kernels waiting in it) and throws, so the process
// ends with one line instead of hanging. The destructor destroys a healthy communicator and
// aborts a failed one.
//
// CUDA graphs: ncclAllReduce may be captured (NCCL supports stream capture), but the CUDA
// backend runs a multi-rank job's steps eagerly and waits for each step's sum, so that a replay
// never hides a failed peer from wait().
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstddef>

#include "host/distributed/collectives.h"

namespace train_gpu::cuda {

class NcclAllReduce {
 public:
  // Collective over `collectives`; the caller has made its GPU current (cudaSetDevice).
  explicit NcclAllReduce(distributed::Collectives& collectives);
  ~NcclAllReduce();
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  // Enqueues the in-place sum of `count` floats at device address `gradients` over the ranks on
  // `stream`. No host sync.
  void sum(float* gradients, std::size_t count, cudaStream_t stream);

  // Waits for `stream` for at most `timeout_seconds`; past it, or on an asynchronous NCCL error,
  // aborts the communicator and throws an Error naming this rank. Synchronizes.
  void wait(cudaStream_t stream, double timeout_seconds);

  int ranks() const { return size_; }

 private:
  [[noreturn]] void abort_and_throw(const std::string& why);

  ncclComm_t comm_ = nullptr;
  bool failed_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace train_gpu::cuda
