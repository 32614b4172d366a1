#include "host/model/cpu_quota.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace train_gpu::cpu {

namespace {

// The whole file, or none when it cannot be read. Plain streams, not read_regular_file: cgroup
// files report st_size 4096 or 0 whatever they hold, and nothing here is a path a user named.
std::optional<std::string> read_small_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

// A whole decimal integer with optional surrounding whitespace; none for anything else.
std::optional<long long> parse_integer(const std::string& text) {
  std::istringstream in(text);
  long long value = 0;
  if (!(in >> value)) return std::nullopt;
  std::string rest;
  if (in >> rest) return std::nullopt;
  return value;
}

void keep_smaller(std::optional<CpuQuota>& best, std::optional<double> cpus, const char* file) {
  if (cpus && (!best || *cpus < best->cpus)) best = CpuQuota{*cpus, file};
}

// `relative` ("/a/b") and every ancestor ("/a", "/") under `mount`, deepest first.
std::vector<std::filesystem::path> levels(const std::filesystem::path& mount, const std::string& relative) {
  std::vector<std::filesystem::path> result;
  std::filesystem::path path = std::filesystem::path(relative).relative_path().lexically_normal();
  for (;;) {
    result.push_back(path.empty() || path == "." ? mount : mount / path);
    if (path.empty() || path == ".") break;
    path = path.parent_path();
  }
  return result;
}

std::optional<double> cpu_max_at(const std::filesystem::path& directory) {
  const std::optional<std::string> text = read_small_file(directory / "cpu.max");
  return text ? parse_cpu_max(*text) : std::nullopt;
}

std::optional<double> cfs_quota_at(const std::filesystem::path& directory) {
  const std::optional<std::string> quota = read_small_file(directory / "cpu.cfs_quota_us");
  const std::optional<std::string> period = read_small_file(directory / "cpu.cfs_period_us");
  return quota && period ? parse_cfs_quota(*quota, *period) : std::nullopt;
}

}  // namespace

std::optional<double> parse_cpu_max(const std::string& text) {
  std::istringstream in(text);
  std::string quota_word, period_word, rest;
  if (!(in >> quota_word >> period_word) || (in >> rest)) return std::nullopt;
  if (quota_word == "max") return std::nullopt;
  const std::optional<long long> quota = parse_integer(quota_word), period = parse_integer(period_word);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return double(*quota) / double(*period);
}

std::optional<double> parse_cfs_quota(const std::string& quota_text, const std::string& period_text) {
  const std::optional<long long> quota = parse_integer(quota_text), period = parse_integer(period_text);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;  // -1: no limit
  return double(*quota) / double(*period);
}

std::optional<CpuQuota> cgroup_cpu_quota(const std::string& cgroup_root, const std::string& proc_self_cgroup) {
  const std::filesystem::path root(cgroup_root);
  std::optional<CpuQuota> best;
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // hierarchy-ID:controller-list:cgroup-path; the path may itself hold ':'.
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (path.empty() || path[0] != '/') continue;
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {  // v2: the unified hierarchy
      for (const auto& level : levels(root, path)) keep_smaller(best, cpu_max_at(level), "cpu.max");
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    bool has_cpu = false;
    while (std::getline(names, name, ',')) has_cpu = has_cpu || name == "cpu";
    if (!has_cpu) continue;
    // Mounted as <root>/cpu, or only under the joint name (<root>/cpu,cpuacct) where no
    // symlink was made.
    for (const std::filesystem::path& mount : {root / "cpu", root / controllers}) {
      for (const auto& level : levels(mount, path)) keep_smaller(best, cfs_quota_at(level), "cpu.cfs_quota_us");
    }
  }
  return best;
}

std::optional<CpuQuota> process_cpu_quota() {
  const char* test_root = std::getenv("TRAIN_GPU_TEST_CGROUP_ROOT");
  const std::optional<std::string> cgroup = read_small_file("/proc/self/cgroup");
  if (!cgroup) return std::nullopt;
  return cgroup_cpu_quota(test_root != nullptr && *test_root != '\0' ? test_root : kCgroupRoot, *cgroup);
}

}  // namespace train_gpu::cpu
