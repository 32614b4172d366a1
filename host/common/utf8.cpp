#include "host/common/utf8.h"

#include <nlohmann/json.hpp>

namespace train_gpu {

std::string to_valid_utf8(const std::string& text) {
  // nlohmann::json's serializer already validates UTF-8 and, with error_handler_t::replace,
  // substitutes U+FFFD; parsing its output back gives the repaired string unescaped.
  const std::string quoted = nlohmann::json(text).dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

bool is_valid_utf8(const std::string& text) {
  // nlohmann::json validates UTF-8 as it serializes; its strict mode is the check.
  try {
    static_cast<void>(nlohmann::json(text).dump());
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace train_gpu
