// host/model/cpu_threads.h: what one CPU backend call sets and holds on its threads.
#include "host/model/cpu_threads.h"

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <csignal>

namespace train_gpu {
namespace {

volatile std::sig_atomic_t g_interrupts = 0;
extern "C" void count_interrupt(int) { g_interrupts = g_interrupts + 1; }

bool signal_blocked_here(int signal_number) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signal_number) == 1;
}

// A SIGINT raised during a call waits for its end (a handler run inside oneDNN's JIT code
// corrupts it; cpu_threads.h), then arrives; the thread count and float mode are the call's
// while it lasts, and the caller's mode and mask are its own again afterwards.
TEST(ComputeScope, HoldsStopSignalsUntilTheCallEndsAndRestoresTheCaller) {
  struct sigaction action {}, previous {};
  action.sa_handler = count_interrupt;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGINT, &action, &previous), 0);
  g_interrupts = 0;
  cpu::set_flush_denormals(false);
  {
    const cpu::ComputeScope scope(1, true);
    EXPECT_TRUE(signal_blocked_here(SIGINT));
    EXPECT_TRUE(signal_blocked_here(SIGTERM));
    EXPECT_EQ(cpu::thread_count(), 1);
    EXPECT_TRUE(cpu::flushes_denormals());
    raise(SIGINT);
    EXPECT_EQ(g_interrupts, 0) << "delivered inside the call";
  }
  EXPECT_EQ(g_interrupts, 1) << "held back, then lost instead of delivered";
  EXPECT_FALSE(signal_blocked_here(SIGINT));
  EXPECT_FALSE(cpu::flushes_denormals());
  sigaction(SIGINT, &previous, nullptr);
  cpu::set_thread_count(0);
}

// The pool's threads start inside a call (ctest runs each test in its own process, so this
// test's call creates them) and keep its mask: outside any call, only the caller can take the
// signal, never a thread that might be inside a oneDNN kernel.
TEST(ComputeScope, PoolThreadsStartedInACallNeverTakeStopSignals) {
#if !defined(_OPENMP)
  GTEST_SKIP() << "built without OpenMP: no pool threads";
#else
  constexpr int kThreads = 3;
  {
    const cpu::ComputeScope scope(kThreads, true);
    cpu::parallel_for(kThreads, [](int) {});
  }
  cpu::set_thread_count(kThreads);
  std::atomic<int> blocked{0};
  cpu::parallel_for(kThreads, [&](int) { blocked += signal_blocked_here(SIGINT) ? 1 : 0; });
  EXPECT_EQ(blocked.load(), kThreads - 1) << "every thread but the caller holds SIGINT";
  cpu::set_thread_count(0);
#endif
}

}  // namespace
}  // namespace train_gpu
