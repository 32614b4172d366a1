// For tests that hand a FIFO to code that must refuse it without opening it for a blocking read:
// should that code regress and block (a FIFO's open waits for a writer, its read for data), the
// test must fail, not hang the suite. After `grace`, this opens the FIFO's write end (which
// succeeds only while a reader waits) and closes it again, every 100 ms, so a blocked reader sees
// end-of-file and returns with some other outcome, which the test's assertions then reject.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace train_gpu::testing {

class FifoUnblocker {
 public:
  FifoUnblocker(std::filesystem::path fifo, std::chrono::seconds grace)
      : fifo_(std::move(fifo)), thread_([this, grace] { run(grace); }) {}
  FifoUnblocker(const FifoUnblocker&) = delete;
  FifoUnblocker& operator=(const FifoUnblocker&) = delete;
  ~FifoUnblocker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  // Whether it had to unblock a reader: the code under test blocked.
  bool fired() {
    std::lock_guard<std::mutex> lock(mutex_);
    return fired_;
  }

 private:
  void run(std::chrono::seconds grace) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wake_.wait_for(lock, grace, [this] { return done_; })) return;
    while (!done_) {
      const int fd = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        ::close(fd);
        fired_ = true;
      }
      wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return done_; });
    }
  }

  std::filesystem::path fifo_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace train_gpu::testing
