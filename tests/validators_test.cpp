// The numeric flag checks (host/cli/validators.h): what each accepts, what it refuses and the
// words it refuses with, and the same through the built binary for the flags of issue 14.
#include <gtest/gtest.h>

#include <string>

#include "host/cli/validators.h"
#include "support/test_support.h"

namespace train_gpu::cli {
namespace {

namespace t = train_gpu::testing;

// The validator's message for `text`: empty when accepted.
std::string verdict(const CLI::Validator& validator, std::string text) { return validator(text); }

TEST(Validators, WholeNumberAtLeastAcceptsTheMinimumAndAbove) {
  const CLI::Validator at_least_one = whole_number_at_least(1);
  for (const char* good : {"1", "2", "10", "9223372036854775807"}) EXPECT_EQ(verdict(at_least_one, good), "") << good;
  for (const char* bad : {"0", "-1", "1.5", "abc", "", "1x", "99999999999999999999"}) {
    EXPECT_EQ(verdict(at_least_one, bad), std::string("must be a whole number of at least 1, got '") + bad + "'") << bad;
  }
  EXPECT_EQ(verdict(whole_number_at_least(0), "0"), "");
  EXPECT_NE(verdict(whole_number_at_least(0), "-1"), "");
}

TEST(Validators, PositiveFiniteRefusesZeroNegativeAndNonFinite) {
  const CLI::Validator positive = positive_finite();
  for (const char* good : {"1e-3", "0.001", "1", "3e38", "1e-40"}) EXPECT_EQ(verdict(positive, good), "") << good;
  // 1e39 and 1e-50 are inf and 0 as the float the flag holds.
  for (const char* bad : {"0", "-1", "nan", "NaN", "inf", "-inf", "infinity", "1e39", "1e-50", "", "abc", "1e-3x"}) {
    EXPECT_EQ(verdict(positive, bad), std::string("must be a positive finite number, got '") + bad + "'") << bad;
  }
}

TEST(Validators, FractionBelowOneIsAdamsBetaRange) {
  const CLI::Validator beta = fraction_below_one();
  for (const char* good : {"0", "0.9", "0.999", "0.99999"}) EXPECT_EQ(verdict(beta, good), "") << good;
  // 0.999999999 rounds to 1.0f, where the bias correction divides by zero.
  for (const char* bad : {"1", "0.999999999", "-0.1", "nan", "inf", "2", ""}) {
    EXPECT_EQ(verdict(beta, bad), std::string("must be a finite number in [0, 1), got '") + bad + "'") << bad;
  }
}

// Through the binary: CLI11 prefixes the flag, and the DBL_MAX range text is gone.
TEST(Validators, TrainFlagsAnswerInPlainWords) {
  t::TempDir scratch;
  const struct {
    const char* arguments;
    const char* message;
  } cases[] = {
      {"--epochs 0", "--epochs: must be a whole number of at least 1, got '0'"},
      {"--lr -1", "--lr: must be a positive finite number, got '-1'"},
      {"--lr nan", "--lr: must be a positive finite number, got 'nan'"},
      {"--lr inf", "--lr: must be a positive finite number, got 'inf'"},
      {"--epsilon nan", "--epsilon: must be a positive finite number, got 'nan'"},
      {"--beta1 inf", "--beta1: must be a finite number in [0, 1), got 'inf'"},
      {"--beta2 nan", "--beta2: must be a finite number in [0, 1), got 'nan'"},
      {"--save-every 0", "--save-every: must be a whole number of at least 1, got '0'"},
      {"--limit-test -5", "--limit-test: must be a whole number of at least 0, got '-5'"},
  };
  for (const auto& c : cases) {
    const t::CommandResult result =
        t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " --device cpu --data-dir /nonexistent " + c.arguments, scratch.path());
    EXPECT_NE(result.exit_code, 0) << c.arguments;
    const std::vector<std::string> lines = t::lines_of(result.err);
    ASSERT_FALSE(lines.empty()) << c.arguments;
    EXPECT_EQ(lines[0], c.message) << c.arguments;
    EXPECT_EQ(result.err.find("179769"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "") << "refused before anything runs: " << c.arguments;
  }
}

}  // namespace
}  // namespace train_gpu::cli
