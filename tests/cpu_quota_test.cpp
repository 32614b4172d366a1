// host/model/cpu_quota.h: the cgroup CPU quota, read from cgroup trees the tests write, and the
// default thread count it gives a real train_gpu process (cpu_threads.h).
#include "host/model/cpu_quota.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <optional>
#include <string>

#include "host/model/cpu_threads.h"
#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = testing;

// Quotas are ratios of small integers; 1e-12 only absorbs the division's rounding.
constexpr double kExact = 1e-12;

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  t::write_file(file, t::Bytes(text.begin(), text.end()));
}

TEST(CpuMax, ParsesQuotaOverPeriodAndReadsMaxOrJunkAsNoLimit) {
  EXPECT_NEAR(*cpu::parse_cpu_max("150000 100000\n"), 1.5, kExact);
  EXPECT_NEAR(*cpu::parse_cpu_max("100000 100000"), 1.0, kExact);
  EXPECT_NEAR(*cpu::parse_cpu_max("  50000   200000 \n"), 0.25, kExact);
  for (const char* no_limit : {"max 100000\n", "max", "", "\n", "150000", "150000 100000 7", "1.5 1", "abc 100000",
                               "0 100000", "-5 100000", "100000 0", "100000 -1", "100000x 100000"}) {
    EXPECT_FALSE(cpu::parse_cpu_max(no_limit).has_value()) << "'" << no_limit << "'";
  }
}

TEST(CfsQuota, ParsesQuotaOverPeriodAndMinusOneAsNoLimit) {
  EXPECT_NEAR(*cpu::parse_cfs_quota("150000\n", "100000\n"), 1.5, kExact);
  EXPECT_NEAR(*cpu::parse_cfs_quota("200000", "100000"), 2.0, kExact);
  EXPECT_FALSE(cpu::parse_cfs_quota("-1\n", "100000\n").has_value());
  EXPECT_FALSE(cpu::parse_cfs_quota("", "100000").has_value());
  EXPECT_FALSE(cpu::parse_cfs_quota("150000", "").has_value());
  EXPECT_FALSE(cpu::parse_cfs_quota("150000 1", "100000").has_value());
}

// cgroup v2: the process's own level and every ancestor count, the smallest limit wins, and a
// "max" level limits nothing.
TEST(CgroupCpuQuota, V2TakesTheSmallestLimitOnThePathUpToTheRoot) {
  t::TempDir root;
  write(root.path() / "cpu.max", "max 100000\n");
  write(root.path() / "jobs" / "cpu.max", "250000 100000\n");
  write(root.path() / "jobs" / "runner" / "cpu.max", "max 100000\n");
  const std::optional<cpu::CpuQuota> quota = cpu::cgroup_cpu_quota(root.path().string(), "0::/jobs/runner\n");
  ASSERT_TRUE(quota.has_value());
  EXPECT_NEAR(quota->cpus, 2.5, kExact);
  EXPECT_EQ(quota->file, "cpu.max");

  write(root.path() / "jobs" / "runner" / "cpu.max", "150000 100000\n");
  EXPECT_NEAR(cpu::cgroup_cpu_quota(root.path().string(), "0::/jobs/runner\n")->cpus, 1.5, kExact);
}

// A container sees its own cgroup as the root while /proc/self/cgroup may still name a path
// that is not there: the walk up reaches the root's file.
TEST(CgroupCpuQuota, APathMissingUnderTheRootFallsBackToTheRootsLimit) {
  t::TempDir root;
  write(root.path() / "cpu.max", "100000 100000\n");
  EXPECT_NEAR(cpu::cgroup_cpu_quota(root.path().string(), "0::/docker/0123abcd\n")->cpus, 1.0, kExact);
  EXPECT_NEAR(cpu::cgroup_cpu_quota(root.path().string(), "0::/\n")->cpus, 1.0, kExact);
}

// cgroup v1: the cpu controller's hierarchy, mounted as <root>/cpu or only under its joint name.
TEST(CgroupCpuQuota, V1ReadsTheCpuControllersCfsFilesUnderEitherMountName) {
  t::TempDir root;
  const std::string cgroup = "12:memory:/other\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  write(root.path() / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "300000\n");
  write(root.path() / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n");
  std::optional<cpu::CpuQuota> quota = cpu::cgroup_cpu_quota(root.path().string(), cgroup);
  ASSERT_TRUE(quota.has_value());
  EXPECT_NEAR(quota->cpus, 3.0, kExact);
  EXPECT_EQ(quota->file, "cpu.cfs_quota_us");

  write(root.path() / "cpu" / "cpu.cfs_quota_us", "50000\n");
  write(root.path() / "cpu" / "cpu.cfs_period_us", "100000\n");
  EXPECT_NEAR(cpu::cgroup_cpu_quota(root.path().string(), cgroup)->cpus, 0.5, kExact);
  // A memory-only line, however limited, is not the CPU's.
  write(root.path() / "memory" / "other" / "cpu.cfs_quota_us", "10000\n");
  write(root.path() / "memory" / "other" / "cpu.cfs_period_us", "100000\n");
  EXPECT_NEAR(cpu::cgroup_cpu_quota(root.path().string(), cgroup)->cpus, 0.5, kExact);
}

TEST(CgroupCpuQuota, NoFilesUnlimitedValuesOrJunkLinesMeanNoLimit) {
  t::TempDir root;
  EXPECT_FALSE(cpu::cgroup_cpu_quota(root.path().string(), "0::/\n1:cpu:/\n").has_value());
  write(root.path() / "cpu" / "cpu.cfs_quota_us", "-1\n");
  write(root.path() / "cpu" / "cpu.cfs_period_us", "100000\n");
  write(root.path() / "cpu.max", "max 100000\n");
  EXPECT_FALSE(cpu::cgroup_cpu_quota(root.path().string(), "0::/\n1:cpu:/\n").has_value());
  write(root.path() / "cpu.max", "100000 100000\n");
  for (const char* junk : {"", "garbage\n", "0:\n", "0::relative\n", ":::\n"}) {
    EXPECT_FALSE(cpu::cgroup_cpu_quota(root.path().string(), junk).has_value()) << "'" << junk << "'";
  }
  EXPECT_FALSE(cpu::cgroup_cpu_quota((root.path() / "absent").string(), "0::/\n").has_value());
}

TEST(DefaultThreads, TheQuotaRoundedUpCapsTheAffinityCountButNotOmpNumThreads) {
  const cpu::CpuQuota one_and_a_half{1.5, "cpu.max"};
  cpu::DefaultThreads chosen = cpu::choose_default_threads(8, false, one_and_a_half);
  EXPECT_EQ(chosen.count, 2);
  EXPECT_EQ(chosen.reason, "cpu.max 1.5 CPUs → 2");
  chosen = cpu::choose_default_threads(8, false, cpu::CpuQuota{1.0, "cpu.max"});
  EXPECT_EQ(chosen.count, 1);
  EXPECT_EQ(chosen.reason, "cpu.max 1 CPU → 1");
  chosen = cpu::choose_default_threads(8, false, cpu::CpuQuota{0.25, "cpu.cfs_quota_us"});
  EXPECT_EQ(chosen.count, 1);
  EXPECT_EQ(chosen.reason, "cpu.cfs_quota_us 0.25 CPUs → 1");
  // A quota above the affinity count changes nothing.
  chosen = cpu::choose_default_threads(2, false, cpu::CpuQuota{4.0, "cpu.max"});
  EXPECT_EQ(chosen.count, 2);
  EXPECT_EQ(chosen.reason, "affinity");
  chosen = cpu::choose_default_threads(4, false, std::nullopt);
  EXPECT_EQ(chosen.count, 4);
  EXPECT_EQ(chosen.reason, "affinity");
  chosen = cpu::choose_default_threads(6, true, one_and_a_half);
  EXPECT_EQ(chosen.count, 6);
  EXPECT_EQ(chosen.reason, "OMP_NUM_THREADS");
}

TEST(DefaultThreads, ThePhraseExplainsOnlyTheDefault) {
  EXPECT_EQ(cpu::thread_count_phrase(3, 3), "3 threads");
  EXPECT_EQ(cpu::thread_count_phrase(1, 1), "1 thread");
  const std::string phrase = cpu::thread_count_phrase(cpu::default_threads().count, 0);
  EXPECT_EQ(phrase.rfind(std::to_string(cpu::default_threads().count) + " thread", 0), 0u) << phrase;
  t::expect_contains(phrase, " (" + cpu::default_threads().reason + ")");
}

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

// A real train_gpu under a fake cgroup tree (TRAIN_GPU_TEST_CGROUP_ROOT) whose root allows one
// CPU: the default is one thread, and the device line says why.
TEST(DefaultThreads, AProcessInACgroupLimitedToOneCpuDefaultsToOneThread) {
  if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  write(scratch.path() / "cgroup" / "cpu.max", "100000 100000\n");
  const std::string command = "env -u OMP_NUM_THREADS TRAIN_GPU_TEST_CGROUP_ROOT=" +
                              t::shell_quote((scratch.path() / "cgroup").string()) + " " +
                              t::shell_quote(TRAIN_GPU_BINARY) +
                              " --device cpu --dry-run --no-progress --no-tensorboard --limit-train 64 --limit-test 64"
                              " --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                              " --run-dir " + t::shell_quote((scratch.path() / "run").string());
  const t::CommandResult result = t::run_command(command, scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  // With a single CPU in the affinity mask the count is 1 either way, and the reason is that.
  t::expect_contains(result.out, affinity_cpus() > 1 ? ", 1 thread (cpu.max 1 CPU → 1)," : ", 1 thread (affinity),");

  // The same process without the fake root: the machine's own default, not the fake one.
  const t::CommandResult unlimited = t::run_command(
      "env -u OMP_NUM_THREADS " + t::shell_quote(TRAIN_GPU_BINARY) +
          " --device cpu --dry-run --no-progress --no-tensorboard --limit-train 64 --limit-test 64 --data-dir " +
          t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir " + t::shell_quote((scratch.path() / "run2").string()),
      scratch.path());
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.out << unlimited.err;
  EXPECT_EQ(unlimited.out.find("cpu.max 1 CPU"), std::string::npos) << unlimited.out;
}

}  // namespace
}  // namespace train_gpu
