// Small text formatting shared by the CLI's tables and progress lines.
#pragma once

#include <cstdint>
#include <string>

namespace train_gpu {

// 693962 -> "693,962"
std::string with_thousands(int64_t value);

// 3.14159, 2 -> "3.14"
std::string fixed(double value, int decimals);

// Seconds as "1.2 s", "3m 04s", "1h 02m".
std::string human_duration(double seconds);

// The shortest text that reads back as `value` (0.001, not 0.00100000005): a float setting as
// the user typed it, and exact for a resume that parses it back.
std::string shortest_float(float value);

}  // namespace train_gpu
