// Text that must be UTF-8 where it lands (ONNX metadata: onnxruntime decodes it as UTF-8 and
// fails on anything else), made from bytes that need not be: Linux file names are any bytes.
#pragma once

#include <string>

namespace train_gpu {

// `text` with each invalid UTF-8 sequence replaced by U+FFFD (the replacement character, as
// Python's errors="replace" does); valid UTF-8 comes back unchanged.
std::string to_valid_utf8(const std::string& text);

// True when `text` is valid UTF-8, as JSON requires of its strings.
bool is_valid_utf8(const std::string& text);

}  // namespace train_gpu
