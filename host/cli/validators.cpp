#include "host/cli/validators.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>

namespace train_gpu::cli {

namespace {

// The whole text must be the number (strtod/strtoll alone accept "1x" as 1). The flags are floats, so a number is judged as the float it becomes: 1e39 would be inf and
// 1e-50 would be 0. False for anything that is not a finite float.
bool parse_float(const std::string& text, float& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double parsed = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(parsed) ||
      std::fabs(parsed) > double(std::numeric_limits<float>::max())) {
    return false;
  }
  value = static_cast<float>(parsed);
  return true;
}

// Plain decimal as validators.h describes it. strtoll alone would skip leading spaces, take a '+'
// and stop at the first non-digit ("1x" is 1).
bool is_plain_decimal(const std::string& text) {
  if (text == "0") return true;
  const std::size_t first_digit = !text.empty() && text[0] == '-' ? 1 : 0;
  return text.size() > first_digit && text[first_digit] != '0' &&
         text.find_first_not_of("0123456789", first_digit) == std::string::npos;
}

// False for anything but a plain decimal within long long (ERANGE).
bool parse_integer(const std::string& text, long long& value) {
  if (!is_plain_decimal(text)) return false;
  errno = 0;
  value = std::strtoll(text.c_str(), nullptr, 10);
  return errno != ERANGE;
}

std::string got(const std::string& text) { return ", got '" + text + "'"; }

// The integer check of the flags: `in_range` judges the parsed value.
CLI::Validator integer_check(const std::string& requirement, const std::string& name,
                             std::function<bool(long long)> in_range) {
  return CLI::Validator(
      [requirement, in_range](std::string& text) {
        long long value = 0;
        if (!parse_integer(text, value) || !in_range(value)) return requirement + got(text);
        return std::string();
      },
      name);
}

}  // namespace

CLI::Validator whole_number_at_least(int64_t minimum) {
  return integer_check("must be a whole number of at least " + std::to_string(minimum), "INT>=" + std::to_string(minimum),
                       [minimum](long long value) { return value >= minimum; });
}

CLI::Validator whole_number_in(int64_t minimum, int64_t maximum) {
  return integer_check("must be a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum),
                       "INT in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]",
                       [minimum, maximum](long long value) { return value >= minimum && value <= maximum; });
}

CLI::Validator unsigned_64bit_number() {
  const std::string requirement =
      "must be a whole number from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max());
  return CLI::Validator(
      [requirement](std::string& text) {
        if (!is_plain_decimal(text) || text[0] == '-') return requirement + got(text);
        errno = 0;
        std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE) return requirement + got(text);
        return std::string();
      },
      "UINT64");
}

CLI::Validator positive_finite() {
  return CLI::Validator(
      [](std::string& text) {
        float value = 0;
        if (!parse_float(text, value) || !(value > 0)) {
          return "must be a positive finite number" + got(text);
        }
        return std::string();
      },
      "POSITIVE");
}

CLI::Validator non_negative_finite() {
  return CLI::Validator(
      [](std::string& text) {
        float value = 0;
        if (!parse_float(text, value) || value < 0) return "must be a finite number >= 0" + got(text);
        return std::string();
      },
      "[0,inf)");
}

CLI::Validator fraction_below_one() {
  return CLI::Validator(
      [](std::string& text) {
        float value = 0;
        if (!parse_float(text, value) || value < 0 || value >= 1) {
          return "must be a finite number in [0, 1)" + got(text);
        }
        return std::string();
      },
      "[0,1)");
}

}  // namespace train_gpu::cli
