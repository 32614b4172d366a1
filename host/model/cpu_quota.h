// The CPU time this process's cgroup may use, for the CPU backend's default thread count
// (cpu_threads.h). A container started with `docker run --cpus=2` on a 64-core node sees 64 CPUs
// in its affinity mask but gets 2 CPUs' worth of time: 64 threads there would each run a
// fraction of the time and wait at every barrier for the others' turns.
//
// Where the limit is: /proc/self/cgroup names the process's cgroup, one line per hierarchy.
// - cgroup v2 ("0::/path"): <root>/path/cpu.max holds "QUOTA PERIOD" in microseconds, or
//   "max PERIOD" for no limit.
// - cgroup v1 ("N:cpu,cpuacct:/path"): <root>/cpu/path (or <root>/cpu,cpuacct/path) holds
//   cpu.cfs_quota_us (-1 for no limit) and cpu.cfs_period_us.
// A parent's limit applies to its children, so every level from the process's cgroup up to the
// root is read and the smallest limit wins. A path that is not there under the root (a
// container sees its own cgroup as the root while /proc/self/cgroup may name the host's path)
// is walked up the same way, so the container's root is still read. Anything unreadable or
// unparsable means no limit: the quota only ever lowers the count.
#pragma once

#include <optional>
#include <string>

namespace train_gpu::cpu {

// Where the real files are; TRAIN_GPU_TEST_CGROUP_ROOT replaces it (test-only, see below).
inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

struct CpuQuota {
  double cpus = 0.0;   // quota / period: 1.5 means one and a half CPUs' time per period
  std::string file;    // the file that set it: "cpu.max" or "cpu.cfs_quota_us"
};

// "150000 100000" -> 1.5 CPUs; "max 100000", an empty, malformed or non-positive value -> none.
std::optional<double> parse_cpu_max(const std::string& text);
// cpu.cfs_quota_us and cpu.cfs_period_us: "150000", "100000" -> 1.5; "-1" (no limit) or
// malformed -> none.
std::optional<double> parse_cfs_quota(const std::string& quota_text, const std::string& period_text);

// The smallest limit over the v2 and v1 hierarchies named in `proc_self_cgroup` (the text of
// /proc/self/cgroup) and their ancestors, with files under `cgroup_root`; none when no level
// limits the CPU time.
std::optional<CpuQuota> cgroup_cpu_quota(const std::string& cgroup_root, const std::string& proc_self_cgroup);

// This process's limit: /proc/self/cgroup under kCgroupRoot, or under the directory named by the
// environment variable TRAIN_GPU_TEST_CGROUP_ROOT when it is set. That variable exists for tests
// only (a process under a fake cgroup tree, tests/cpu_quota_test.cpp); nothing else should set it.
std::optional<CpuQuota> process_cpu_quota();

}  // namespace train_gpu::cpu
