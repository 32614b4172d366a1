#include "host/cli/validators.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
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

// ERANGE: beyond long long.
bool parse_integer(const std::string& text, long long& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(text.c_str(), &end, 10);
  return end == text.c_str() + text.size() && errno != ERANGE;
}

std::string got(const std::string& text) { return ", got '" + text + "'"; }

}  // namespace

CLI::Validator whole_number_at_least(int64_t minimum) {
  const std::string requirement = "must be a whole number of at least " + std::to_string(minimum);
  return CLI::Validator(
      [minimum, requirement](std::string& text) {
        long long value = 0;
        if (!parse_integer(text, value) || value < minimum) return requirement + got(text);
        return std::string();
      },
      "INT>=" + std::to_string(minimum));
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
