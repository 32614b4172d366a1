// What the ranks of a data-parallel job say to each other: the one interface the trainer and the
// backends see. The implementation over MPI is host/distributed/mpi_collectives.h (CPU ranks
// all-reduce their gradients here, with MPI_Allreduce); GPU ranks bootstrap NCCL through
// broadcast() and all-reduce on the device (cuda/distributed/nccl_all_reduce.h). A single
// process has no Collectives at all (a null pointer): its step runs exactly as it always did.
//
// Every call is collective: every rank makes the same calls in the same order. A call that does
// not complete within the job's --dist-timeout (a rank died or hangs) ends this process with one
// error line instead of hanging (host/distributed/collective_watchdog.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace train_gpu::distributed {

class Collectives {
 public:
  virtual ~Collectives() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  // --dist-timeout: how long any exchange may wait for the other ranks.
  virtual double timeout_seconds() const = 0;
  // "rank 1 of 3"
  std::string rank_phrase() const { return "rank " + std::to_string(rank()) + " of " + std::to_string(size()); }

  // Sums `count` gradients over the ranks, in place, in host memory: every rank ends with the
  // same sum (float addition is commutative, and MPI applies one reduction tree for all ranks).
  virtual void sum_gradients(float* gradients, std::size_t count) = 0;
  // Element-wise sums and minimums over the ranks, in place.
  virtual void sum(double* values, std::size_t count, const char* what) = 0;
  virtual void sum(int64_t* values, std::size_t count, const char* what) = 0;
  virtual void min(int64_t* values, std::size_t count, const char* what) = 0;
  // Rank 0's `bytes` bytes at `data` into every rank's.
  virtual void broadcast(void* data, std::size_t bytes, const char* what) = 0;
  // Rank 0's text on every rank.
  std::string broadcast_text(std::string text, const char* what) {
    uint64_t length = text.size();
    broadcast(&length, sizeof length, what);
    text.resize(std::size_t(length));
    if (length > 0) broadcast(text.data(), text.size(), what);
    return text;
  }
  // Every rank's value, in rank order.
  virtual std::vector<uint64_t> gather(uint64_t value, const char* what) = 0;
  // Ends every process of the job at once after this process prints `line` (one line, on
  // stderr): for an error on one rank while the others may be waiting in a collective.
  [[noreturn]] virtual void abort_job(const std::string& line) = 0;
};

}  // namespace train_gpu::distributed
