// One job, one voice: on every rank but 0, std::cout writes nowhere for this object's life (its
// buffer is taken away, so every write is a no-op), and what rank 0 prints stands for the job.
// Errors still go to stderr on whichever rank meets them.
#pragma once

#include <iostream>

namespace train_gpu::distributed {

class RankZeroOutput {
 public:
  explicit RankZeroOutput(bool quiet) : saved_(quiet ? std::cout.rdbuf(nullptr) : nullptr), quiet_(quiet) {}
  ~RankZeroOutput() {
    if (!quiet_) return;
    std::cout.rdbuf(saved_);
    std::cout.clear();
  }
  RankZeroOutput(const RankZeroOutput&) = delete;
  RankZeroOutput& operator=(const RankZeroOutput&) = delete;

 private:
  std::streambuf* saved_;
  bool quiet_;
};

}  // namespace train_gpu::distributed
