// host/model/kernel_choice.h: picking the fastest of candidates with known (fake) costs, forcing
// one by name, and what the device line says about either.
#include "host/model/kernel_choice.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = testing;

// Each candidate's cost per round, as run_once returns it; the calls are recorded in order.
struct FakeCosts {
  std::vector<std::vector<double>> per_round;  // [candidate][round]
  std::vector<std::size_t> calls;
  std::vector<int> rounds_run;

  explicit FakeCosts(std::vector<std::vector<double>> costs)
      : per_round(std::move(costs)), rounds_run(per_round.size(), 0) {}
  double operator()(std::size_t i) {
    calls.push_back(i);
    return per_round[i][std::size_t(rounds_run[i]++)];
  }
};

TEST(StartupKernelChoice, PicksTheFastestByEachCandidatesBestRound) {
  // b's first round is slow (a burst of load, a cold cache), its best is the fastest of all.
  FakeCosts costs({{3e-3, 3e-3, 3e-3}, {9e-3, 1e-3, 2e-3}, {2e-3, 2e-3, 2e-3}});
  const cpu::KernelChoice choice =
      cpu::time_kernels({"a", "b", "c"}, 3, [&](std::size_t i) { return costs(i); });
  EXPECT_EQ(choice.name, "b");
  ASSERT_EQ(choice.timings.size(), 3u);
  EXPECT_EQ(choice.timings[0].name, "a");
  EXPECT_DOUBLE_EQ(choice.timings[0].seconds, 3e-3);
  EXPECT_DOUBLE_EQ(choice.timings[1].seconds, 1e-3);
  EXPECT_DOUBLE_EQ(choice.timings[2].seconds, 2e-3);
  EXPECT_TRUE(choice.forced_by.empty());
  // Round-robin: every candidate's first round before any second one.
  EXPECT_EQ(costs.calls, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

TEST(StartupKernelChoice, TiesGoToTheEarlierCandidateAndOneCandidateIsNotTimed) {
  FakeCosts tied(std::vector<std::vector<double>>{{2e-3}, {2e-3}});
  EXPECT_EQ(cpu::time_kernels({"first", "second"}, 1, [&](std::size_t i) { return tied(i); }).name, "first");
  FakeCosts alone(std::vector<std::vector<double>>{{1.0}});
  const cpu::KernelChoice choice = cpu::time_kernels({"only"}, 3, [&](std::size_t i) { return alone(i); });
  EXPECT_EQ(choice.name, "only");
  EXPECT_TRUE(choice.timings.empty());
  EXPECT_TRUE(alone.calls.empty());
  EXPECT_THROW(cpu::time_kernels({}, 3, [](std::size_t) { return 0.0; }), Error);
}

TEST(StartupKernelChoice, ForcingNamesOneThisCpuRunsOrFailsSayingWhichItCould) {
  const cpu::KernelChoice forced = cpu::forced_kernel("TRAIN_GPU_CONV_POOL", "avx2", {"avx512", "avx2", "x86-64"});
  EXPECT_EQ(forced.name, "avx2");
  EXPECT_EQ(forced.forced_by, "TRAIN_GPU_CONV_POOL");
  EXPECT_TRUE(forced.timings.empty());
  const std::string error =
      t::error_of([] { cpu::forced_kernel("TRAIN_GPU_CONV_POOL", "avx512", {"avx2", "x86-64"}); });
  EXPECT_EQ(error,
            "TRAIN_GPU_CONV_POOL=avx512: not a kernel this CPU can run; expected one of avx2, x86-64 "
            "(or unset it to time them at start-up)");
}

TEST(StartupKernelChoice, TheDescriptionSaysHowItWasChosen) {
  cpu::KernelChoice timed{"b", {{"a", 0.95e-3}, {"b", 0.8123e-3}}, ""};
  EXPECT_EQ(cpu::describe(timed), "b (fastest at start-up: a 0.95, b 0.81 ms)");
  EXPECT_EQ(cpu::describe(cpu::KernelChoice{"avx2", {}, "TRAIN_GPU_CONV_POOL"}), "avx2 (TRAIN_GPU_CONV_POOL)");
  EXPECT_EQ(cpu::describe(cpu::KernelChoice{"x86-64", {}, ""}), "x86-64");
}

}  // namespace
}  // namespace train_gpu
