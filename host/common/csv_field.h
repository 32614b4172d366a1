// One CSV field as RFC 4180 writes it: as is when it holds no comma, quote, CR or LF; otherwise
// in double quotes with each quote doubled. Python's csv module, pandas and numpy read it back
// unchanged. Used for free text such as a device name ("cuda:0 NVIDIA H200, compute
// capability 9.0, 132 SMs, 139.8 GiB"), which a naive split on commas would shift into the
// numeric columns.
#pragma once

#include <string>

namespace train_gpu {

inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace train_gpu
