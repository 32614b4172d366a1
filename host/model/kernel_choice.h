// Choosing among interchangeable CPU kernels by timing each once at start-up, as cudnnFind does
// for cuDNN's convolution algorithms. Instruction-set flags say which versions a CPU can run, not
// which runs fastest there: Zen 4 executes each 512-bit instruction as two 256-bit halves, so
// there the AVX-512 build with 256-bit vectors (and AVX-512's 32 registers) can beat the 512-bit
// one that wins on Intel's server cores (issue 22). The candidates must compute the same bits
// (cpu_conv_pool.h says which do), so the choice, which timing noise may change from one process
// to the next, never changes a result.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace train_gpu::cpu {

struct KernelTiming {
  std::string name;
  double seconds = 0.0;  // the fastest of its rounds
};

struct KernelChoice {
  std::string name;                   // the one that runs
  std::vector<KernelTiming> timings;  // every candidate's, in candidate order; empty when not timed
  std::string forced_by;              // the environment variable that chose it, or empty
};

// Runs candidate i with run_once(i), which returns the seconds it took, `rounds` times each,
// round-robin (a burst of load from elsewhere then slows one round of every candidate rather
// than every round of one), keeps each one's fastest and picks the fastest of those; ties go to
// the earlier candidate. One candidate is not timed at all. `candidates` must not be empty.
KernelChoice time_kernels(const std::vector<std::string>& candidates, int rounds,
                          const std::function<double(std::size_t)>& run_once);

// The kernel `value` of the environment variable `variable` names, which must be one of
// `runnable` (else an Error naming the variable, the value and what this CPU can run).
KernelChoice forced_kernel(const std::string& variable, const std::string& value,
                           const std::vector<std::string>& runnable);

// For the device line: "avx2", "avx2 (TRAIN_GPU_CONV_POOL)", or
// "avx512-256 (fastest at start-up: avx512 0.95, avx512-256 0.81, avx2 0.90 ms)".
std::string describe(const KernelChoice& choice);

}  // namespace train_gpu::cpu
