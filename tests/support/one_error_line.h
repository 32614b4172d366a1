// How a command that refuses its input must end: a non-zero exit and exactly one line on stderr,
// "train_gpu: error: ..." (the CLI's one catch), holding `must_contain`.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu::testing {

inline void expect_one_error_line(const CommandResult& result, const std::string& must_contain) {
  EXPECT_NE(result.exit_code, 0) << result.out;
  const std::vector<std::string> lines = lines_of(result.err);
  ASSERT_EQ(lines.size(), 1u) << result.err;
  EXPECT_EQ(lines[0].rfind("train_gpu: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(must_contain), std::string::npos) << lines[0];
}

}  // namespace train_gpu::testing
