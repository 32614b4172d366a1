// Checks for numeric flags whose failures read as a person would say them: "--epochs: must be a
// whole number of at least 1, got '0'" rather than CLI11's PositiveNumber message, which prints
// the range up to DBL_MAX in full. Float checks reject nan and inf up front: CLI11 parses them
// and PositiveNumber lets inf through, and a run with --lr nan only diverges at its second step.
// CLI11 prefixes each message with the flag's name.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

namespace train_gpu::cli {

// The integer checks accept plain decimal only: an optional '-', then digits without a leading
// zero (or "0" itself). CLI11 alone would take '' as 0 (it assigns a default-constructed value to
// an empty string), "-1" as 18446744073709551615 for an unsigned flag, and "010" as octal 8 (it
// converts with base 0); a check cannot rewrite the text for it (check() marks its validators
// non-modifying), so it refuses every text on which base 0 and base 10 could disagree.

// A whole number >= minimum.
CLI::Validator whole_number_at_least(int64_t minimum);

// A whole number in [minimum, maximum]: also for int flags, whose range ends below int64's.
CLI::Validator whole_number_in(int64_t minimum, int64_t maximum);

// A whole number from 0 to 2^64 - 1: the uint64_t seeds.
CLI::Validator unsigned_64bit_number();

// A finite number > 0.
CLI::Validator positive_finite();

// A finite number >= 0: settings where 0 means off (--clip-norm, --weight-decay, --lr-min).
CLI::Validator non_negative_finite();

// A finite number in [0, 1): Adam's betas (at 1 the bias correction 1 - beta^t divides by zero).
CLI::Validator fraction_below_one();

}  // namespace train_gpu::cli
