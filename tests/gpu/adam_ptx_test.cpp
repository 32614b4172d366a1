// The Adam kernel's PTX, as nvcc compiles cuda/kernels/adam.cu with this build's flags
// (tests/CMakeLists.txt makes it): no fused multiply-add, and every float add, subtract, multiply,
// divide and square root carries an explicit .rn rounding modifier. Per the PTX ISA, an operation
// with an explicit rounding modifier is "treated conservatively by the code optimizer", so ptxas
// cannot fuse it either: what is checked here is what runs. This is what makes the GPU's Adam
// bitwise equal to the CPU's (cuda/math/rounded_float.h). Needs no GPU; skipped where the PTX
// file is not at hand (the device machine gets binaries only).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace train_gpu {
namespace {

// The lines of the body of the .entry whose name contains `kernel`; empty when none does.
std::vector<std::string> entry_body(const std::string& ptx, const std::string& kernel) {
  std::istringstream in(ptx);
  std::vector<std::string> body;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside && line.find(".entry") != std::string::npos && line.find(kernel) != std::string::npos) inside = true;
    if (!inside) continue;
    if (line == "}") break;  // an entry's closing brace is alone at column 0
    body.push_back(line);
  }
  return body;
}

TEST(AdamPtx, NoFusedMultiplyAddAndEveryFloatOperationRoundsOnItsOwn) {
  const std::filesystem::path file = TRAIN_GPU_ADAM_PTX;
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "no PTX at " << file << " (only the build tree has it)";
  std::ifstream in(file);
  const std::string ptx((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::string> body = entry_body(ptx, "adam_kernel");
  ASSERT_FALSE(body.empty()) << "no .entry named *adam_kernel* in " << file;

  const std::regex fused(R"(^\s*(fma|mad)(\.[a-z0-9]+)*\.f(32|64)\b)");
  const std::regex float_op(R"(^\s*(add|sub|mul|div|sqrt)((\.[a-z0-9]+)*)\.f32\b)");
  int rounded_ops = 0, divisions = 0, roots = 0;
  for (const std::string& line : body) {
    EXPECT_FALSE(std::regex_search(line, fused)) << "fused multiply-add in adam_kernel: " << line;
    std::smatch match;
    if (std::regex_search(line, match, float_op)) {
      const std::string modifiers = match[2].str() + ".";
      EXPECT_NE(modifiers.find(".rn."), std::string::npos)
          << "float operation without .rn (ptxas may fuse or approximate it): " << line;
      ++rounded_ops;
      divisions += match[1] == "div" ? 1 : 0;
      roots += match[1] == "sqrt" ? 1 : 0;
    }
  }
  // Adam's update: 2 subtractions for 1 - beta, 5 products, 3 sums, 1 division, 1 root, 1 final
  // subtraction (nvcc may fold the constant ones); at least the data-dependent ones must be here.
  EXPECT_GE(rounded_ops, 8);
  EXPECT_EQ(divisions, 1);
  EXPECT_EQ(roots, 1);
}

}  // namespace
}  // namespace train_gpu
