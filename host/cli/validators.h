// Checks for numeric flags whose failures read as a person would say them: "--epochs: must be a
// whole number of at least 1, got '0'" rather than CLI11's PositiveNumber message, which prints
// the range up to DBL_MAX in full. Float checks reject nan and inf up front: CLI11 parses them
// and PositiveNumber lets inf through, and a run with --lr nan only diverges at its second step.
// CLI11 prefixes each message with the flag's name.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

namespace train_gpu::cli {

// A whole number >= minimum.
CLI::Validator whole_number_at_least(int64_t minimum);

// A finite number > 0.
CLI::Validator positive_finite();

// A finite number in [0, 1): Adam's betas (at 1 the bias correction 1 - beta^t divides by zero).
CLI::Validator fraction_below_one();

}  // namespace train_gpu::cli
