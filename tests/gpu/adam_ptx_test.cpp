// The PTX of Adam's device code, as nvcc compiles it with this build's flags (tests/CMakeLists.txt
// makes it): the update kernel (cuda/kernels/adam.cu, which with --kernels fused also does the
// non-finite gradient check) and the step size a replayed CUDA graph computes on the device
// (advance_step_counters in cuda/kernels/softmax_xent.cu). In both: no fused multiply-add, and
// every add, subtract, multiply, divide and square root of the shared math carries an explicit
// .rn rounding modifier, and every f32 one .ftz (subnormals flushed, as the CPU backend's FTZ/DAZ
// does). Per the PTX ISA, an operation with an explicit rounding modifier is
// "treated conservatively by the code optimizer", so ptxas cannot fuse it either: what is checked
// here is what runs. This is what makes the GPU's Adam bitwise equal to the CPU's
// (cuda/math/rounded_float.h), with the CPU's default FTZ/DAZ (BackendOptions::flush_denormals).
// Needs no GPU; skipped where the PTX files are not at hand (a bundle carries binaries only).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace train_gpu {
namespace {

// The PTX files, which CMake passes joined by '|'.
std::vector<std::filesystem::path> ptx_files() {
  std::vector<std::filesystem::path> files;
  std::istringstream list(TRAIN_GPU_ADAM_PTX_FILES);
  for (std::string file; std::getline(list, file, '|');) files.emplace_back(file);
  return files;
}

// The lines of the body of the kernel (.entry) or device function (.func) whose mangled name
// contains `name`, from whichever file defines it; empty when none does. A .func is declared
// before it is defined (a header ending in a lone ";"): the body is the definition's, between
// the lone "{" and "}" at column 0.
std::vector<std::string> function_body(const std::string& name) {
  for (const std::filesystem::path& file : ptx_files()) {
    std::ifstream in(file);
    bool header = false, inside = false;
    std::vector<std::string> body;
    for (std::string line; std::getline(in, line);) {
      if (inside) {
        if (line == "}") return body;
        body.push_back(line);
      } else if (header) {
        if (line == ";") header = false;  // a declaration; the definition comes later
        if (line == "{") inside = true;
      } else if ((line.find(".entry") != std::string::npos || line.find(".func") != std::string::npos) &&
                 line.find(name) != std::string::npos) {
        header = true;
      }
    }
  }
  return {};
}

struct OperationCounts {
  int rounded = 0, divisions = 0, roots = 0, products = 0;
};

// Fails on every fused multiply-add (f32 or f64) and every `precision` add/sub/mul/div/sqrt
// without .rn in `body` (for f32 also without .ftz: the CPU flushes subnormals, so must the
// device, cuda/CMakeLists.txt); counts the rounded ones.
OperationCounts check_rounded(const std::vector<std::string>& body, const std::string& where,
                              const std::string& precision) {
  const std::regex fused(R"(^\s*(fma|mad)(\.[a-z0-9]+)*\.f(32|64)\b)");
  const std::regex operation(R"(^\s*(add|sub|mul|div|sqrt)((\.[a-z0-9]+)*)\.)" + precision + R"(\b)");
  OperationCounts counts;
  for (const std::string& line : body) {
    EXPECT_FALSE(std::regex_search(line, fused)) << "fused multiply-add in " << where << ": " << line;
    std::smatch match;
    if (std::regex_search(line, match, operation)) {
      const std::string modifiers = match[2].str() + ".";
      EXPECT_NE(modifiers.find(".rn."), std::string::npos)
          << precision << " operation without .rn in " << where << " (ptxas may fuse or approximate it): " << line;
      if (precision == "f32") {
        EXPECT_NE(modifiers.find(".ftz."), std::string::npos)
            << "f32 operation without .ftz in " << where
            << " (keeps subnormals the CPU flushes; is -ftz=true on this target?): " << line;
      }
      ++counts.rounded;
      counts.divisions += match[1] == "div" ? 1 : 0;
      counts.roots += match[1] == "sqrt" ? 1 : 0;
      counts.products += match[1] == "mul" ? 1 : 0;
    }
  }
  return counts;
}

bool contains(const std::vector<std::string>& body, const std::string& text) {
  for (const std::string& line : body) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

class AdamPtx : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::filesystem::path& file : ptx_files()) {
      if (!std::filesystem::exists(file)) GTEST_SKIP() << "no PTX at " << file << " (only the build tree has it)";
    }
  }
};

TEST_F(AdamPtx, TheUpdateKernelFusesNoMultiplyAddAndRoundsEveryFloatOperation) {
  const std::vector<std::string> body = function_body("adam_kernel");
  ASSERT_FALSE(body.empty()) << "no .entry named *adam_kernel* in " << TRAIN_GPU_ADAM_PTX_FILES;
  const OperationCounts counts = check_rounded(body, "adam_kernel", "f32");
  // Adam's update: 2 subtractions for 1 - beta, 5 products, 3 sums, 1 division, 1 root, 1 final
  // subtraction (nvcc may fold the constant ones); at least the data-dependent ones must be here.
  EXPECT_GE(counts.rounded, 8);
  EXPECT_EQ(counts.divisions, 1);
  EXPECT_EQ(counts.roots, 1);
  // The same kernel carries the fused set's non-finite check (nonfinite.cuh: a block-wide OR,
  // then one compare-and-swap), so the rules above hold for it too.
  EXPECT_TRUE(contains(body, "bar.red.or")) << "no __syncthreads_or: is this the kernel with the non-finite check?";
  EXPECT_TRUE(contains(body, "atom.global.cas")) << "no atomicCAS of the first non-finite batch";
}

TEST_F(AdamPtx, TheDevicesStepSizeFusesNoMultiplyAddAndRoundsEveryDoubleOperation) {
  const std::vector<std::string> body = function_body("advance_step_counters");
  ASSERT_FALSE(body.empty()) << "no .func named *advance_step_counters* in " << TRAIN_GPU_ADAM_PTX_FILES;
  const OperationCounts counts = check_rounded(body, "advance_step_counters", "f64");
  // lr * sqrt(1 - beta2^t) / (1 - beta1^t): beta^t by repeated squaring (at least a product per
  // loop for each beta, and lr's), 2 subtractions, 1 root, 1 division; then rounded to float.
  EXPECT_GE(counts.products, 3);
  EXPECT_GE(counts.rounded, 7);
  EXPECT_EQ(counts.divisions, 1);
  EXPECT_EQ(counts.roots, 1);
  // Rounded to float with .rn, and flushed as the CPU's conversion is under FTZ (a step size is
  // never subnormal, but the mode is the build's, checked here like the update's).
  EXPECT_TRUE(contains(body, "cvt.rn.ftz.f32.f64")) << "the step size is not rounded to float with .rn.ftz";
}

TEST_F(AdamPtx, TheSoftmaxKernelAdvancesTheCountersThroughThatFunction) {
  // Were advance_counters inlined into the kernel again, the test above would read a function
  // nothing calls; the kernel must call the one it checks.
  const std::vector<std::string> body = function_body("softmax_xent_kernel");
  ASSERT_FALSE(body.empty()) << "no .entry named *softmax_xent_kernel* in " << TRAIN_GPU_ADAM_PTX_FILES;
  // PTX: "call.uni" on one line, the callee's mangled name on the next.
  EXPECT_TRUE(contains(body, "call.uni")) << "softmax_xent_kernel calls no function";
  EXPECT_TRUE(contains(body, "advance_step_countersE")) << "softmax_xent_kernel does not call advance_step_counters";
}

}  // namespace
}  // namespace train_gpu
