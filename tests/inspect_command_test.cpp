// `train_gpu inspect`, run as the user runs it (the built binary in a subprocess): the tables on
// real MNIST, --show and --out, and bad data directories failing with exactly one error line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/idx_files.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h, support/idx_files.h)
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kMnist = TRAIN_GPU_MNIST_DIR;

class InspectCommand : public ::testing::Test {
 protected:
  t::CommandResult inspect(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " inspect " + arguments, scratch_.path());
  }
  // Exit code != 0 and stderr exactly one line: "train_gpu: error: ..." containing `expected`.
  t::CommandResult expect_one_line_error(const std::string& arguments, const std::string& expected) {
    t::CommandResult result = inspect(arguments);
    EXPECT_NE(result.exit_code, 0) << arguments;
    const auto lines = t::lines_of(result.err);
    EXPECT_EQ(lines.size(), 1u) << arguments << ":\n" << result.err;
    if (!lines.empty()) {
      EXPECT_THAT(lines[0], StartsWith("train_gpu: error: ")) << arguments;
      EXPECT_THAT(lines[0], HasSubstr(expected)) << arguments;
    }
    return result;
  }
  t::TempDir scratch_;
  t::TempDir dir_;
};

TEST_F(InspectCommand, MnistTablesShowAndCsv) {
  const fs::path out_dir = dir_ / "report" / "nested";
  const t::CommandResult result = inspect("--data-dir " + t::shell_quote(kMnist.string()) + " --show 0 --out " +
                                          t::shell_quote(out_dir.string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const std::string& out = result.out;
  EXPECT_THAT(out, HasSubstr("train-images-idx3-ubyte.gz: MNIST train images, verified"));
  EXPECT_THAT(out, ContainsRegex("train +\\(60000, 28, 28\\) +\\(60000,\\)"));
  EXPECT_THAT(out, ContainsRegex("test +\\(10000, 28, 28\\) +\\(10000,\\)"));
  // split, pixel distinct/min/max, label distinct/min/max
  EXPECT_THAT(out, ContainsRegex("train +256 +0 +255 +10 +0 +9"));
  EXPECT_THAT(out, ContainsRegex("test +256 +0 +255 +10 +0 +9"));
  EXPECT_THAT(out, ContainsRegex("\n +0 +9\\.871667 +9\\.800000\n"));
  EXPECT_THAT(out, ContainsRegex("\n +1 +11\\.236667 +11\\.350000\n"));
  EXPECT_THAT(out, ContainsRegex("\n +9 +9\\.915000 +10\\.090000\n"));
  EXPECT_THAT(out, HasSubstr("train image 0: label 5\n"));
  EXPECT_THAT(out, HasSubstr("\u2588"));  // the 5 is drawn with full blocks

  const std::string csv = t::read_text(out_dir / "label_distribution.csv");
  EXPECT_THAT(csv, StartsWith("label,train_percent,test_percent\n0,9.871667,9.800000\n1,11.236667,11.350000\n"));
  EXPECT_EQ(t::lines_of(csv).size(), 11u);
}

TEST_F(InspectCommand, ShowFromTestSplitAndOutOfRange) {
  const std::string data = "--data-dir " + t::shell_quote(kMnist.string());
  const t::CommandResult result = inspect(data + " --show 9999 --split test");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("test image 9999: label 6\n"));
  const t::CommandResult bad = expect_one_line_error(
      data + " --show 10000 --split test", "--show 10000: index out of range; the test split has 10000 images (0..9999)");
  EXPECT_THAT(bad.out, ::testing::Not(HasSubstr("Label distribution")));  // fails before printing tables
  // A negative index is a usage error, refused by the flag's check before the dataset loads.
  const t::CommandResult negative = inspect(data + " --show -1");
  EXPECT_NE(negative.exit_code, 0);
  EXPECT_THAT(negative.err, StartsWith("--show: must be a whole number of at least 0, got '-1'\n"));
}

TEST_F(InspectCommand, BadDataDirsFailWithOneLine) {
  expect_one_line_error("--data-dir " + t::shell_quote((dir_ / "missing").string()), "missing: no such directory");
  // An empty directory: the first file looked for is missing.
  expect_one_line_error("--data-dir " + t::shell_quote(dir_.path().string()), "no train images file (tried ");
  // A broken file among good ones.
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"}) {
    fs::copy_file(kMnist / name, dir_ / name);
  }
  t::write_file(dir_ / "t10k-labels-idx1-ubyte.gz", t::gzip(t::idx_labels(t::cycling_labels(9999))));
  expect_one_line_error("--data-dir " + t::shell_quote(dir_.path().string()),
                        "t10k-labels-idx1-ubyte.gz: 9999 labels, but ");
}

}  // namespace
}  // namespace train_gpu
