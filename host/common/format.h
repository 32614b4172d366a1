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

}  // namespace train_gpu
