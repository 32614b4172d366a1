// to_valid_utf8 (host/common/utf8.h): valid UTF-8 passes unchanged, whatever is not becomes
// U+FFFD, so the result always decodes.
#include "host/common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace train_gpu {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

TEST(Utf8, ValidTextIsUnchanged) {
  for (const std::string& text : {std::string(), std::string("epoch-003.safetensors"), std::string("caf\xC3\xA9"),
                                 std::string("\xE6\x95\xB0\xE5\xAD\x97"), std::string("\xF0\x9F\x94\xA2"),
                                 std::string("tab\there \"quoted\" back\\slash"), std::string("nul\0inside", 10)}) {
    EXPECT_EQ(to_valid_utf8(text), text);
  }
}

TEST(Utf8, InvalidBytesBecomeTheReplacementCharacter) {
  EXPECT_EQ(to_valid_utf8("caf\xE9.safetensors"), "caf" + kReplacement + ".safetensors");  // Latin-1 e-acute
  EXPECT_EQ(to_valid_utf8("\xFF"), kReplacement);
  EXPECT_EQ(to_valid_utf8("a\x80" "b"), "a" + kReplacement + "b");          // a lone continuation byte
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), kReplacement + kReplacement);        // an overlong '/'
  EXPECT_NE(to_valid_utf8("\xED\xA0\x80").find(kReplacement), std::string::npos);  // a UTF-16 surrogate
  // A sequence cut short at the end.
  const std::string cut = to_valid_utf8("ok\xE6\x95");
  EXPECT_EQ(cut.rfind("ok", 0), 0u);
  EXPECT_NE(cut.find(kReplacement), std::string::npos);
  EXPECT_EQ(to_valid_utf8(cut), cut) << "the result is valid UTF-8";
}

}  // namespace
}  // namespace train_gpu
