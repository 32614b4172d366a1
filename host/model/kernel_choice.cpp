#include "host/model/kernel_choice.h"

#include <algorithm>
#include <limits>

#include "host/common/error.h"
#include "host/common/format.h"

namespace train_gpu::cpu {

KernelChoice time_kernels(const std::vector<std::string>& candidates, int rounds,
                          const std::function<double(std::size_t)>& run_once) {
  if (candidates.empty()) throw Error("time_kernels: no candidates");
  KernelChoice choice;
  choice.name = candidates.front();
  if (candidates.size() == 1) return choice;
  for (const std::string& name : candidates) choice.timings.push_back({name, std::numeric_limits<double>::infinity()});
  for (int round = 0; round < std::max(1, rounds); ++round) {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      choice.timings[i].seconds = std::min(choice.timings[i].seconds, run_once(i));
    }
  }
  const auto fastest = std::min_element(choice.timings.begin(), choice.timings.end(),
                                        [](const KernelTiming& a, const KernelTiming& b) { return a.seconds < b.seconds; });
  choice.name = fastest->name;
  return choice;
}

KernelChoice forced_kernel(const std::string& variable, const std::string& value,
                           const std::vector<std::string>& runnable) {
  if (std::find(runnable.begin(), runnable.end(), value) == runnable.end()) {
    std::string names;
    for (const std::string& name : runnable) names += (names.empty() ? "" : ", ") + name;
    throw Error(variable + "=" + value + ": not a kernel this CPU can run; expected one of " + names +
                " (or unset it to time them at start-up)");
  }
  KernelChoice choice;
  choice.name = value;
  choice.forced_by = variable;
  return choice;
}

std::string describe(const KernelChoice& choice) {
  if (!choice.forced_by.empty()) return choice.name + " (" + choice.forced_by + ")";
  if (choice.timings.empty()) return choice.name;
  std::string text = choice.name + " (fastest at start-up:";
  for (std::size_t i = 0; i < choice.timings.size(); ++i) {
    text += (i == 0 ? " " : ", ") + choice.timings[i].name + " " + fixed(choice.timings[i].seconds * 1e3, 2);
  }
  return text + " ms)";
}

}  // namespace train_gpu::cpu
