// `train_gpu --plots` runs tools/plot.py with the Python of an active virtual environment, where a
// pip user installed matplotlib, before /usr/bin/python3 (issue 24 item 7). The real binary, with a
// stand-in venv whose python records how it was called.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu::testing {
namespace {

namespace fs = std::filesystem;

TEST(Plots, TheActiveVirtualEnvironmentsPythonDrawsThem) {
  if (!mnist_available()) GTEST_SKIP() << "no MNIST at " << TRAIN_GPU_MNIST_DIR;
  TempDir scratch;
  const fs::path venv = scratch.path() / "venv";
  const fs::path calls = scratch.path() / "calls.txt";
  fs::create_directories(venv / "bin");
  // Answers the matplotlib probe and the plot.py call alike with success, noting each.
  const std::string script = "#!/bin/sh\necho \"$@\" >> " + shell_quote(calls.string()) + "\nexit 0\n";
  write_file(venv / "bin" / "python", Bytes(script.begin(), script.end()));
  ASSERT_EQ(chmod((venv / "bin" / "python").c_str(), 0755), 0);

  const std::string command = "VIRTUAL_ENV=" + shell_quote(venv.string()) + " " + shell_quote(TRAIN_GPU_BINARY) +
                              " train --epochs 1 --limit-train 320 --limit-test 100 --device cpu --no-tensorboard "
                              "--no-progress --plots --data-dir " + shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir " +
                              shell_quote((scratch.path() / "run").string());
  const CommandResult result = run_command(command, scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string called = read_text(calls);
  EXPECT_NE(called.find("import matplotlib"), std::string::npos) << called;
  EXPECT_NE(called.find("plot.py " + (scratch.path() / "run").string()), std::string::npos) << called;
}

}  // namespace
}  // namespace train_gpu::testing
