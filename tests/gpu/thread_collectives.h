// Ranks as threads of one test process (GPU ranks one per GPU): an in-process stand-in for the MPI
// collectives (host/distributed/collectives.h) that does what the backends need of them: rank 0's
// broadcast of NCCL's unique id (cuda/distributed/nccl_all_reduce.h) and the CPU ranks' gradient
// sum (host/model/cpu_backend.cpp), and nothing else (the trainer's totals and stop agreement are
// tested over real MPI, distributed_training_test). One SharedWorld per world, for one broadcast.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/distributed/collectives.h"

namespace train_gpu::cuda::testing {

// What the ranks share: rank 0's broadcast bytes, and the gradient sums. A sum round's result is
// read by every rank after the last one added to it; a rank may already add to the next round,
// hence two sums, alternating (no rank can be two rounds ahead: a round ends only when all added).
struct SharedWorld {
  std::mutex mutex;
  std::condition_variable ready_changed;
  bool ready = false;
  std::vector<unsigned char> bytes;
  std::vector<float> sums[2];
  int added = 0;          // ranks that added to the current round
  int64_t round = 0;      // rounds completed
};

class ThreadCollectives final : public distributed::Collectives {
 public:
  ThreadCollectives(int rank, int size, SharedWorld& shared) : rank_(rank), size_(size), shared_(shared) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return rank_; }
  double timeout_seconds() const override { return 60.0; }
  void broadcast(void* data, std::size_t bytes, const char*) override {
    std::unique_lock<std::mutex> lock(shared_.mutex);
    if (rank_ == 0) {
      shared_.bytes.assign(static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + bytes);
      shared_.ready = true;
      shared_.ready_changed.notify_all();
    } else {
      shared_.ready_changed.wait(lock, [&] { return shared_.ready; });
      std::memcpy(data, shared_.bytes.data(), bytes);
    }
  }
  // The sum of every rank's `count` gradients into each rank's, in the order the ranks arrive.
  void sum_gradients(float* gradients, std::size_t count) override {
    std::unique_lock<std::mutex> lock(shared_.mutex);
    const int64_t round = shared_.round;
    std::vector<float>& sum = shared_.sums[round % 2];
    if (shared_.added == 0) {
      sum.assign(gradients, gradients + count);
    } else {
      for (std::size_t i = 0; i < count; ++i) sum[i] += gradients[i];
    }
    if (++shared_.added == size_) {
      shared_.added = 0;
      ++shared_.round;
      shared_.ready_changed.notify_all();
    } else {
      shared_.ready_changed.wait(lock, [&] { return shared_.round != round; });
    }
    std::copy(sum.begin(), sum.end(), gradients);
  }
  // The backends need nothing else.
  void sum(double*, std::size_t, const char*) override { unused(); }
  void sum(int64_t*, std::size_t, const char*) override { unused(); }
  void min(int64_t*, std::size_t, const char*) override { unused(); }
  std::vector<uint64_t> gather(uint64_t, const char*) override { unused(); }
  [[noreturn]] void abort_job(const std::string& line) override { throw std::runtime_error(line); }

 private:
  [[noreturn]] static void unused() { throw std::logic_error("not used by the backends"); }
  int rank_, size_;
  SharedWorld& shared_;
};

}  // namespace train_gpu::cuda::testing
