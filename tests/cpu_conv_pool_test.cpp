// host/model/cpu_conv_pool.h's versions of the fused loops: each one this CPU runs against the
// float64 reference (cpu_layers_test's checks, rerun with the version forced), the FMA versions
// bit-identical to each other (why timing may choose among them), and the choice as a real
// train_gpu process prints, forces and refuses it.
#include "host/model/cpu_conv_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/model_spec.h"
#include "support/mnist_subset.h"
#include "support/one_error_line.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = testing;

// The versions whose sums contract into FMAs (cpu_conv_pool.cpp's table): all but the baseline.
std::vector<std::string> fma_variants() {
  std::vector<std::string> names;
  for (const std::string& name : cpu::conv_pool_variants()) {
    if (name != "x86-64") names.push_back(name);
  }
  return names;
}

// cpu_layers_test's convolution tests (exact on small integers, within the float32 summation
// bound of float64 on random floats, forward and backward, thread-count independence, ties) in
// a process of their own per version, forced the way a user would force it.
TEST(ConvPoolVariants, EachVersionPassesTheFloat64ReferenceChecks) {
  const fs::path layers_test = fs::read_symlink("/proc/self/exe").parent_path() / "cpu_layers_test";
  ASSERT_TRUE(fs::exists(layers_test)) << layers_test;
  t::TempDir scratch;
  const std::vector<std::string> variants = cpu::conv_pool_variants();
  ASSERT_FALSE(variants.empty());
  EXPECT_EQ(variants.back(), "x86-64") << "the baseline runs everywhere";
  for (const std::string& variant : variants) {
    const t::CommandResult result = t::run_command(
        "TRAIN_GPU_CONV_POOL=" + variant + " " + t::shell_quote(layers_test.string()) +
            " --gtest_filter='CpuLayersTest.ConvReluPool*'",
        scratch.path());
    EXPECT_EQ(result.exit_code, 0) << variant << ":\n" << result.out << result.err;
    EXPECT_EQ(result.out.find("[  PASSED  ] 0 tests"), std::string::npos) << variant << ": no test ran";
  }
}

std::vector<float> seeded(std::size_t count, uint64_t seed, float low, float high) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& v : values) v = low + (high - low) * rng.uniform01();
  return values;
}

struct Outputs {
  std::vector<float> pooled, maps, gradients;
  std::vector<uint8_t> argmax;
};

Outputs run_variant(const std::string& variant, int count) {
  using namespace model;
  const auto images = seeded(std::size_t(count) * kImagePixels, 71, 0.0f, 1.0f);
  const auto weight = seeded(kConvWeightCount, 72, -0.5f, 0.5f), bias = seeded(kConvFilters, 73, -0.3f, 0.3f);
  auto dpooled = seeded(std::size_t(count) * kFlatFeatures, 74, -1e-3f, 1e-3f);
  cpu::use_conv_pool_variant(variant);
  Outputs out{std::vector<float>(std::size_t(count) * kFlatFeatures), std::vector<float>(std::size_t(count) * kConvOutputs),
              std::vector<float>(kConvWeightCount + kConvBiasCount), std::vector<uint8_t>(std::size_t(count) * kFlatFeatures)};
  cpu::conv_relu_pool_forward(images.data(), count, weight.data(), bias.data(), out.pooled.data(), out.argmax.data(),
                              out.maps.data());
  for (std::size_t i = 0; i < dpooled.size(); ++i) {
    if (out.pooled[i] <= 0.0f) dpooled[i] = 0.0f;
  }
  std::vector<float> scratch(std::size_t(count) * cpu::kConvGradientFloatsPerImage);
  cpu::conv_relu_pool_backward_params(images.data(), dpooled.data(), out.argmax.data(), count, scratch.data(),
                                      out.gradients.data(), out.gradients.data() + kConvWeightCount);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Why the start-up timing may choose among the FMA versions without changing any result: they
// compute every filter's sums in the same order with one rounding per tap, whatever the vector
// width, so maps, pooled values, winners and gradients agree to the bit.
TEST(ConvPoolVariants, TheFmaVersionsGiveTheSameBits) {
  const std::vector<std::string> variants = fma_variants();
  if (variants.size() < 2) GTEST_SKIP() << "this CPU runs fewer than two FMA versions";
  const Outputs first = run_variant(variants.front(), 6);
  for (std::size_t i = 1; i < variants.size(); ++i) {
    const Outputs other = run_variant(variants[i], 6);
    EXPECT_TRUE(same_bits(first.maps, other.maps)) << variants[i] << " vs " << variants.front();
    EXPECT_TRUE(same_bits(first.pooled, other.pooled)) << variants[i];
    EXPECT_EQ(first.argmax, other.argmax) << variants[i];
    EXPECT_TRUE(same_bits(first.gradients, other.gradients)) << variants[i];
  }
}

TEST(ConvPoolVariants, UsingAVersionIsWhatRunsAndWhatIsReported) {
  for (const std::string& variant : cpu::conv_pool_variants()) {
    cpu::use_conv_pool_variant(variant);
    EXPECT_EQ(cpu::conv_pool_isa(), variant);
  }
  EXPECT_THROW(cpu::use_conv_pool_variant("avx1024"), Error);
}

// A real process: the device line names the version and how it was chosen; the environment
// variable forces one; a name this CPU cannot run is one error line and a non-zero exit.
class ConvPoolChoiceCommand : public ::testing::Test {
 protected:
  t::CommandResult train(const std::string& environment, const std::string& run) {
    return t::run_command("env -u TRAIN_GPU_CONV_POOL " + environment + " " + t::shell_quote(TRAIN_GPU_BINARY) +
                              " --device cpu --dry-run --no-progress --no-tensorboard --limit-train 64 --limit-test 64"
                              " --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                              " --run-dir " + t::shell_quote((scratch_.path() / run).string()),
                          scratch_.path());
  }
  t::TempDir scratch_;
};

TEST_F(ConvPoolChoiceCommand, TheDeviceLineSaysWhichVersionRunsAndWhy) {
  if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const t::CommandResult timed = train("", "timed");
  ASSERT_EQ(timed.exit_code, 0) << timed.out << timed.err;
  if (fma_variants().size() > 1) {
    t::expect_contains(timed.out, " (fastest at start-up: ");
    for (const std::string& variant : fma_variants()) t::expect_contains(timed.out, " " + variant + " ");
  }
  const t::CommandResult forced = train("TRAIN_GPU_CONV_POOL=x86-64", "forced");
  ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  t::expect_contains(forced.out, "conv+pool x86-64 (TRAIN_GPU_CONV_POOL),");
  t::expect_one_error_line(train("TRAIN_GPU_CONV_POOL=avx1024", "refused"),
                           "TRAIN_GPU_CONV_POOL=avx1024: not a kernel this CPU can run; expected one of ");
}

}  // namespace
}  // namespace train_gpu
