// host/model/cpu_threads.h: what one CPU backend call sets and holds on its threads.
#include "host/model/cpu_threads.h"

#include <gtest/gtest.h>

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/pool_threads.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

volatile std::sig_atomic_t g_interrupts = 0;
extern "C" void count_interrupt(int) { g_interrupts = g_interrupts + 1; }

bool signal_blocked_here(int signal_number) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signal_number) == 1;
}

#if defined(_OPENMP)
// What OpenMP chose before anything in this process changed it (OMP_NUM_THREADS, else every core
// this process may run on): read while static objects are made, before main and before any test.
const int kOpenMpDefaultThreads = omp_get_max_threads();
#endif

// The effects of the denormal mode on the calling thread, not its control bits (a test reading
// the bits that set_flush_denormals writes would agree with any mask it writes). The operands
// are volatile so that the compiler cannot fold them at compile time, in the default mode.
// DAZ: a subnormal operand reads as zero.
bool subnormal_input_reads_as_zero() {
  volatile float subnormal = std::numeric_limits<float>::denorm_min() * 1000.0f;  // 1.4e-42
  return subnormal == 0.0f;
}
// FTZ: a result in the subnormal range from normal operands is flushed to zero. Judged by its
// bits: a float comparison would read a subnormal result as zero under DAZ alone.
bool subnormal_result_is_flushed() {
  volatile float small = 1e-20f;  // normal; its square, 1e-40, is subnormal
  const float product = small * small;
  uint32_t bits = 0;
  std::memcpy(&bits, &product, sizeof bits);
  return (bits & 0x7fffffffu) == 0;
}

struct ModeOnEachThread {
  std::vector<int> reads_as_zero, flushed, thread;
};

// Both effects on every index of a parallel_for of `threads` over `threads` indices, and which
// pool thread ran each index.
ModeOnEachThread mode_on_each_thread(int threads) {
  ModeOnEachThread seen{std::vector<int>(std::size_t(threads), -1), std::vector<int>(std::size_t(threads), -1),
                        std::vector<int>(std::size_t(threads), -1)};
  cpu::parallel_for(threads, [&](int i) {
    seen.reads_as_zero[std::size_t(i)] = subnormal_input_reads_as_zero() ? 1 : 0;
    seen.flushed[std::size_t(i)] = subnormal_result_is_flushed() ? 1 : 0;
#if defined(_OPENMP)
    seen.thread[std::size_t(i)] = omp_get_thread_num();
#endif
  });
  return seen;
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

// "0 threads" is the default (OpenMP's own choice, capped by the cgroup's CPU quota), whatever
// count was asked for before: the backend of a second run in one process (--threads 1, then the
// default) must not keep the first one's.
TEST(ThreadCount, ZeroMeansTheDefaultEvenAfterAnExplicitCount) {
#if !defined(_OPENMP)
  EXPECT_EQ(cpu::set_thread_count(0), 1);
  GTEST_SKIP() << "built without OpenMP: always one thread";
#else
  const int default_count =
      cpu::choose_default_threads(kOpenMpDefaultThreads, std::getenv("OMP_NUM_THREADS") != nullptr,
                                  cpu::process_cpu_quota())
          .count;
  ASSERT_LE(default_count, kOpenMpDefaultThreads);
  // default + 1 differs from the default on any machine, 1 on any with more than one core.
  for (const int explicit_count : {default_count + 1, 1}) {
    EXPECT_EQ(cpu::set_thread_count(explicit_count), explicit_count);
    EXPECT_EQ(cpu::thread_count(), explicit_count);
    EXPECT_EQ(cpu::set_thread_count(0), default_count) << "after " << explicit_count;
    EXPECT_EQ(cpu::thread_count(), default_count) << "after " << explicit_count;
  }
#endif
}

// A flushing call flushes on the caller and on every pool thread: subnormal inputs read as zero
// (DAZ) and subnormal results become zero (FTZ); a call that keeps denormals keeps both, on every
// thread, even when the pool's threads were left flushing. Each branch starts with the pool in
// the other mode, set directly (support/pool_threads.h), so it is parallel_for that must change
// it, whichever test made the pool.
TEST(ComputeScope, FlushingReadsSubnormalsAsZeroAndFlushesResultsOnEveryThread) {
#if !defined(__SSE__)
  GTEST_SKIP() << "no FTZ/DAZ mode on this CPU";
#else
  constexpr int kThreads = 3;
  cpu::set_flush_denormals(false);
  ASSERT_FALSE(subnormal_input_reads_as_zero()) << "a mode that keeps denormals keeps them";
  ASSERT_FALSE(subnormal_result_is_flushed());
  for (const bool flush : {true, false}) {
    testing::set_pool_threads_flush_denormals(kThreads, !flush);
    cpu::set_flush_denormals(!flush);
    {
      const cpu::ComputeScope scope(kThreads, flush);
      EXPECT_EQ(subnormal_input_reads_as_zero(), flush) << "the caller";
      EXPECT_EQ(subnormal_result_is_flushed(), flush) << "the caller";
      const ModeOnEachThread seen = mode_on_each_thread(kThreads);
      EXPECT_EQ(seen.reads_as_zero, std::vector<int>(kThreads, flush ? 1 : 0)) << "DAZ, per pool thread";
      EXPECT_EQ(seen.flushed, std::vector<int>(kThreads, flush ? 1 : 0)) << "FTZ, per pool thread";
#if defined(_OPENMP)
      std::vector<int> threads = seen.thread;
      std::sort(threads.begin(), threads.end());
      EXPECT_EQ(threads, (std::vector<int>{0, 1, 2})) << "each index on its own thread: every pool thread checked";
#endif
    }
    EXPECT_EQ(subnormal_input_reads_as_zero(), !flush) << "the caller's own mode is back";
    EXPECT_EQ(subnormal_result_is_flushed(), !flush) << "the caller's own mode is back";
  }
  cpu::set_flush_denormals(false);
  cpu::set_thread_count(0);
#endif
}

// ---- How waiting threads wait (cpu_threads.h) ----------------------------------------------------

constexpr int kProbeRegions = 60;
constexpr double kProbeWorkSeconds = 0.010;  // per region, on one thread of two

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// The child half of the test below (it skips unless started by it): two-thread parallel
// regions in which index 0 computes for kProbeWorkSeconds of its own CPU time and index 1 has
// nothing to do, so the second thread waits for the first at every region's end. Prints the
// working thread's CPU time and the whole process's.
TEST(WaitPolicy, UnbalancedRegionsProbe) {
  if (std::getenv("TRAIN_GPU_TEST_WAIT_PROBE") == nullptr) GTEST_SKIP() << "started only by WaitPolicy's test below";
  cpu::set_thread_count(2);
  cpu::parallel_for(2, [](int) {});  // the pool exists before the clocks start
  double work_seconds = 0.0;
  volatile double sink = 0.0;
  const double process_start = process_cpu_seconds();
  for (int region = 0; region < kProbeRegions; ++region) {
    cpu::parallel_for(2, [&](int i) {
      if (i != 0) return;
      const double start = thread_cpu_seconds();
      double now = start;
      while (now - start < kProbeWorkSeconds) {
        for (int k = 0; k < 1000; ++k) sink = sink + 1.0;
        now = thread_cpu_seconds();
      }
      work_seconds += now - start;
    });
  }
  const double process_seconds = process_cpu_seconds() - process_start;
  std::printf("probe work_cpu_s=%.6f process_cpu_s=%.6f\n", work_seconds, process_seconds);
}

// The process's CPU time over the working thread's, from a probe child with `environment`.
double cpu_over_work(const std::string& environment, const std::filesystem::path& scratch) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const testing::CommandResult result = testing::run_command(
      "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT TRAIN_GPU_TEST_WAIT_PROBE=1 " + environment + " " +
          testing::shell_quote(self) + " --gtest_filter=WaitPolicy.UnbalancedRegionsProbe",
      scratch);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const std::string& line : testing::lines_of(result.out)) {
    if (line.rfind("probe ", 0) != 0) continue;
    const auto values = testing::key_values(line);
    const double work = std::stod(values.at("work_cpu_s")), process = std::stod(values.at("process_cpu_s"));
    EXPECT_GE(work, kProbeRegions * kProbeWorkSeconds) << line;
    return process / work;
  }
  ADD_FAILURE() << "no probe line from the child (" << environment << "):\n" << result.out << result.err;
  return 0.0;
}

// A thread that waits for a partner with work left stops burning a core after a short spin:
// the process uses little more CPU time than the work itself. Under OpenMP's active policy
// (what libgomp's default becomes for waits shorter than its 300,000 PAUSEs, milliseconds) the
// waiting thread spins through the whole wait and the process uses about twice the work. CPU
// times, not wall times, so a loaded machine changes both ratios little: the spinner burns
// whatever share of a core it is given, as the worker does. Margins: ours pays at most
// kOpenMpSpinCount PAUSEs (under 1 ms even at 140 cycles each on a 2 GHz core) per 10 ms
// region, ratio <= 1.1 plus the process's own overhead, asserted < 1.4; the spinner's ~2 is
// asserted > 1.6, so the probe is shown to see spinning when there is some.
TEST(WaitPolicy, ThreadsWaitingForAnUnbalancedPartnerSleepInsteadOfSpinning) {
#if !defined(_OPENMP) || defined(__clang__)
  GTEST_SKIP() << "no libgomp (built without OpenMP, or clang's libomp): the bound is libgomp's GOMP_SPINCOUNT";
#else
  testing::TempDir scratch;
  const double spinning = cpu_over_work("OMP_WAIT_POLICY=active", scratch.path());
  const double ours = cpu_over_work("", scratch.path());
  EXPECT_LT(ours, 1.4) << "process CPU over work CPU with the default wait (spinning: " << spinning << ")";
  EXPECT_GT(spinning, 1.6) << "process CPU over work CPU with OMP_WAIT_POLICY=active (ours: " << ours << ")";
#endif
}

// The bound reaches libgomp before it reads its environment, and leaves the environment as the
// user gave it: children of train_gpu (Python for --plots) do not inherit our GOMP_SPINCOUNT.
TEST(WaitPolicy, TheSpinCountIsNotLeftInTheEnvironment) {
  if (std::getenv("TRAIN_GPU_TEST_WAIT_PROBE") != nullptr) GTEST_SKIP() << "a probe child";
  testing::TempDir scratch;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const testing::CommandResult result = testing::run_command(
      "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT TRAIN_GPU_TEST_WAIT_ENV=1 " + testing::shell_quote(self) +
          " --gtest_filter=WaitPolicy.EnvironmentProbe",
      scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  testing::expect_contains(result.out, "probe GOMP_SPINCOUNT=(unset)");
}

TEST(WaitPolicy, EnvironmentProbe) {
  if (std::getenv("TRAIN_GPU_TEST_WAIT_ENV") == nullptr) GTEST_SKIP() << "started only by WaitPolicy's test above";
  const char* value = std::getenv("GOMP_SPINCOUNT");
  std::printf("probe GOMP_SPINCOUNT=%s\n", value == nullptr ? "(unset)" : value);
}

}  // namespace
}  // namespace train_gpu
