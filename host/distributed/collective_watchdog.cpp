#include "host/distributed/collective_watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "host/common/format.h"

namespace train_gpu::distributed {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

CollectiveWatchdog::CollectiveWatchdog(double timeout_seconds, std::string who)
    : timeout_seconds_(timeout_seconds), who_(std::move(who)), thread_([this] { watch(); }) {}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_one();
  thread_.join();
}

void CollectiveWatchdog::arm(const char* what) {
  what_.store(what, std::memory_order_relaxed);
  deadline_ns_.store(now_ns() + static_cast<int64_t>(timeout_seconds_ * 1e9), std::memory_order_release);
}

void CollectiveWatchdog::disarm() { deadline_ns_.store(0, std::memory_order_release); }

void CollectiveWatchdog::watch() {
  // A tenth of the timeout between looks (at most a second): the process ends within 1.1 times
  // --dist-timeout of the call's start.
  const auto period = std::chrono::duration<double>(std::min(1.0, timeout_seconds_ / 10.0));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, period, [this] { return stopping_; })) {
    const int64_t deadline = deadline_ns_.load(std::memory_order_acquire);
    if (deadline == 0 || now_ns() < deadline) continue;
    std::fprintf(stderr,
                 "train_gpu: error: %s waited %s s in %s without an answer from the other ranks: one of them died "
                 "or hangs (--dist-timeout %s); ending the job\n",
                 who_.c_str(), shortest_float(static_cast<float>(timeout_seconds_)).c_str(), what_.load(std::memory_order_relaxed),
                 shortest_float(static_cast<float>(timeout_seconds_)).c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }
}

}  // namespace train_gpu::distributed
