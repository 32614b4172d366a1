// The bound on a collective call: a rank that died or hangs must not leave the others waiting
// forever in MPI_Allreduce. A thread of its own watches a deadline that arm() sets before each
// collective and disarm() clears after it (two atomic stores and a clock read per call, nothing
// per element); past the deadline it prints one line naming the call and the rank and ends the
// process (std::_Exit(1)), and the launcher (mpirun, srun) then ends the rest of the job. The
// watching thread makes no MPI call, so MPI needs no thread support beyond MPI_THREAD_FUNNELED.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace train_gpu::distributed {

class CollectiveWatchdog {
 public:
  // `who`: "rank 1 of 3", for the line it prints.
  CollectiveWatchdog(double timeout_seconds, std::string who);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // `what` must be a string literal (it is read by the watching thread).
  void arm(const char* what);
  void disarm();

 private:
  void watch();

  const double timeout_seconds_;
  const std::string who_;
  std::atomic<int64_t> deadline_ns_{0};  // steady_clock nanoseconds; 0: no collective in progress
  std::atomic<const char*> what_{""};
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;
};

// Arms `watchdog` for one collective call's scope.
class ArmedWatchdog {
 public:
  ArmedWatchdog(CollectiveWatchdog& watchdog, const char* what) : watchdog_(watchdog) { watchdog_.arm(what); }
  ~ArmedWatchdog() { watchdog_.disarm(); }
  ArmedWatchdog(const ArmedWatchdog&) = delete;
  ArmedWatchdog& operator=(const ArmedWatchdog&) = delete;

 private:
  CollectiveWatchdog& watchdog_;
};

}  // namespace train_gpu::distributed
