// The numeric flag checks (host/cli/validators.h): what each accepts, what it refuses and the
// words it refuses with, and the same through the built binary for the flags of issue 14 and, for
// negative and empty values, every integer flag of every command (issue 25).
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
  // Only plain decimal: strtoll alone would skip the space and take the '+'; CLI11 reads 0x10 as 16.
  for (const char* bad : {" 5", "5 ", "+5", "0x10", "1e3", "-", "--1"}) EXPECT_NE(verdict(at_least_one, bad), "") << bad;
  EXPECT_EQ(verdict(whole_number_at_least(-3), "-3"), "");
  EXPECT_EQ(verdict(whole_number_at_least(-3), "-9223372036854775808"), "must be a whole number of at least -3, got '-9223372036854775808'");
}

// CLI11 converts with base 0, where "010" is octal 8 and "0x10" is 16: whatever base 0 could read
// otherwise than base 10 is refused, since a check cannot rewrite the text.
TEST(Validators, LeadingZerosAreRefused) {
  for (const CLI::Validator& validator : {whole_number_at_least(0), whole_number_in(0, 100), unsigned_64bit_number()}) {
    EXPECT_EQ(verdict(validator, "0"), "");
    EXPECT_EQ(verdict(validator, "10"), "");
    for (const char* bad : {"010", "00", "0x10", "-0", "-01"}) EXPECT_NE(verdict(validator, bad), "") << bad;
  }
}

TEST(Validators, WholeNumberInIncludesBothEnds) {
  const CLI::Validator batch = whole_number_in(1, 65536);
  for (const char* good : {"1", "64", "65536"}) EXPECT_EQ(verdict(batch, good), "") << good;
  for (const char* bad : {"0", "65537", "-1", "", "1.0", "99999999999999999999"}) {
    EXPECT_EQ(verdict(batch, bad), std::string("must be a whole number from 1 to 65536, got '") + bad + "'") << bad;
  }
}

// The seeds are uint64_t, where CLI11 alone makes "-1" 18446744073709551615 and "" 0.
TEST(Validators, Unsigned64BitNumberCoversTheWholeRangeAndNothingElse) {
  const CLI::Validator seed = unsigned_64bit_number();
  for (const char* good : {"0", "42", "9223372036854775808", "18446744073709551615"}) {
    EXPECT_EQ(verdict(seed, good), "") << good;
  }
  for (const char* bad : {"-1", "", "18446744073709551616", "99999999999999999999999", "1.5", " 1", "abc"}) {
    EXPECT_EQ(verdict(seed, bad), std::string("must be a whole number from 0 to 18446744073709551615, got '") + bad + "'")
        << bad;
  }
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
      // Before issue 25 these ran: --seed -1 as seed 18446744073709551615, '' as 0 (also for
      // --tensorboard-every, which turned the running curves off).
      {"--seed -1", "--seed: must be a whole number from 0 to 18446744073709551615, got '-1'"},
      {"--seed ''", "--seed: must be a whole number from 0 to 18446744073709551615, got ''"},
      {"--tensorboard-every ''", "--tensorboard-every: must be a whole number of at least 0, got ''"},
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

// Every integer flag of every command, negative and empty: one line that names the flag, what it
// takes and what it got, before anything runs. CLI11 alone would take '' as 0 and -1 as 2^64 - 1
// for the seeds, and answered the batch sizes with "Value  not in range 1 to 65536".
TEST(Validators, EveryIntegerFlagRefusesNegativeAndEmptyValues) {
  t::TempDir scratch;
  const std::string checkpoint = t::shell_quote((scratch / "some.safetensors").string());
  t::write_file(scratch / "some.safetensors", t::Bytes{'x'});  // exists: --checkpoint's own check passes
  const std::string at_least_0 = "must be a whole number of at least 0";
  const std::string at_least_1 = "must be a whole number of at least 1";
  const std::string int_max = "2147483647";
  const std::string seed = "must be a whole number from 0 to 18446744073709551615";
  const struct {
    std::string command;  // the words before the flag
    std::string flag;
    std::string requirement;
  } flags[] = {
      {"train --data-dir /nonexistent", "--epochs", at_least_1},
      {"train --data-dir /nonexistent", "--batch-size", "must be a whole number from 1 to 65536"},
      {"train --data-dir /nonexistent", "--test-batch-size", "must be a whole number from 1 to 65536"},
      {"train --data-dir /nonexistent", "--seed", seed},
      {"train --data-dir /nonexistent", "--save-every", at_least_1},
      {"train --data-dir /nonexistent", "--keep-last", at_least_0},
      {"train --data-dir /nonexistent", "--tensorboard-every", at_least_0},
      {"train --data-dir /nonexistent", "--limit-train", at_least_0},
      {"train --data-dir /nonexistent", "--limit-test", at_least_0},
      {"train --data-dir /nonexistent", "--threads", "must be a whole number from 0 to " + int_max},
      {"train --data-dir /nonexistent", "--graph-steps", "must be a whole number from 1 to 64"},
      {"bench --data-dir /nonexistent", "--epochs", "must be a whole number from 1 to " + int_max},
      {"bench --data-dir /nonexistent", "--warmup-steps", "must be a whole number from 0 to " + int_max},
      {"bench --data-dir /nonexistent", "--batch-sizes", "must be a whole number from 1 to 65536"},
      {"bench --data-dir /nonexistent", "--graph-steps", "must be a whole number from 1 to 64"},
      {"bench --data-dir /nonexistent", "--seed", seed},
      {"inspect --data-dir /nonexistent", "--show", at_least_0},
      {"features --checkpoint " + checkpoint, "--index", at_least_0},
      {"predict --checkpoint " + checkpoint + " image.png", "--index", at_least_0},
      {"evaluate --checkpoint " + checkpoint, "--threads", "must be a whole number from 0 to " + int_max},
  };
  for (const auto& f : flags) {
    for (const std::string value : {"-1", ""}) {
      const std::string arguments = f.command + " " + f.flag + " " + t::shell_quote(value);
      const t::CommandResult result = t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " " + arguments, scratch.path());
      EXPECT_NE(result.exit_code, 0) << arguments;
      const std::vector<std::string> lines = t::lines_of(result.err);
      ASSERT_FALSE(lines.empty()) << arguments;
      EXPECT_EQ(lines[0], f.flag + ": " + f.requirement + ", got '" + value + "'") << arguments;
      EXPECT_EQ(result.out, "") << "refused before anything runs: " << arguments;
    }
  }
}

}  // namespace
}  // namespace train_gpu::cli
