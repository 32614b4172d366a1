// config.json (host/train/run_config.h) as `train` writes it, from the built binary: paths are
// bytes, not necessarily UTF-8, and a strict JSON dump threw type_error.316 on the first bad one,
// so `train --data-dir` through a directory whose name is not UTF-8 failed before its first step.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

TEST(RunConfig, PathsThatAreNotUtf8AreWrittenWithReplacementCharacters) {
  if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  const std::string odd_name = "mn\xff" "ist";  // 0xff never occurs in UTF-8
  fs::create_directory_symlink(fs::absolute(TRAIN_GPU_MNIST_DIR), scratch / odd_name);
  const fs::path run = scratch / "run";
  const t::CommandResult result =
      t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " train --device cpu --epochs 1 --limit-train 200 --limit-test 100 " +
                         "--no-progress --data-dir " + t::shell_quote((scratch / odd_name).string()) + " --run-dir " +
                         t::shell_quote(run.string()),
                     scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json config = nlohmann::json::parse(t::read_text(run / "config.json"));
  const std::string path = config.at("dataset").at("files").at(0).at("path");
  t::expect_contains(path, "/mn\xef\xbf\xbdist/train-images");  // U+FFFD for the 0xff byte
}

}  // namespace
}  // namespace train_gpu
