// tools/fetch-data.sh, run offline with a local directory (or file:// URL) as the source: files
// arrive verified, bad checksums leave nothing behind, reruns skip what is already there.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kMnist = TRAIN_GPU_MNIST_DIR;
const char* const kFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                              "t10k-labels-idx1-ubyte.gz"};

class FetchData : public ::testing::Test {
 protected:
  t::CommandResult fetch(const std::string& arguments) {
    const std::string script = (fs::path(TRAIN_GPU_SOURCE_DIR) / "tools" / "fetch-data.sh").string();
    return t::run_command("bash " + t::shell_quote(script) + " " + arguments, scratch_.path());
  }
  t::TempDir scratch_;  // captured output
  t::TempDir dir_;      // sources and destinations
};

TEST_F(FetchData, FromLocalDirectoryThenIdempotentRerun) {
  const fs::path dest = dir_ / "nested" / "mnist";
  const t::CommandResult first = fetch("--source " + t::shell_quote(kMnist.string()) + " " + t::shell_quote(dest.string()));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("mnist: all 4 files verified in " + dest.string()));
  for (const char* name : kFiles) {
    ASSERT_TRUE(fs::is_regular_file(dest / name)) << name;
    EXPECT_EQ(fs::file_size(dest / name), fs::file_size(kMnist / name)) << name;
    EXPECT_FALSE(fs::exists(dest / (std::string(name) + ".part"))) << name;
  }
  const t::CommandResult second =
      fetch("--source file://" + t::shell_quote(kMnist.string()) + " " + t::shell_quote(dest.string()));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("train-images-idx3-ubyte.gz: already present, verified"));
  EXPECT_THAT(second.out, HasSubstr("t10k-labels-idx1-ubyte.gz: already present, verified"));
  EXPECT_THAT(second.out, ::testing::Not(HasSubstr("fetching")));
}

TEST_F(FetchData, ChecksumMismatchLeavesNoFileBehind) {
  const fs::path source = dir_ / "source";
  fs::create_directories(source);
  for (const char* name : kFiles) t::write_file(source / name, t::read_file(kMnist / name));
  t::Bytes labels = t::read_file(source / "t10k-labels-idx1-ubyte.gz");
  labels[100] ^= 0x01;  // one flipped bit
  t::write_file(source / "t10k-labels-idx1-ubyte.gz", labels);

  const fs::path dest = dir_ / "dest";
  const t::CommandResult result = fetch("--source " + t::shell_quote(source.string()) + " " + t::shell_quote(dest.string()));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("t10k-labels-idx1-ubyte.gz from " + source.string() + ": sha256 "));
  EXPECT_THAT(result.err, HasSubstr("fetch-data.sh: error: 1 of 4 files could not be fetched and verified"));
  EXPECT_FALSE(fs::exists(dest / "t10k-labels-idx1-ubyte.gz"));
  EXPECT_FALSE(fs::exists(dest / "t10k-labels-idx1-ubyte.gz.part"));
  // The good files did arrive.
  EXPECT_TRUE(fs::exists(dest / "train-labels-idx1-ubyte.gz"));
}

TEST_F(FetchData, UnverifiedFileAlreadyInPlaceIsReplaced) {
  const fs::path dest = dir_ / "dest";
  fs::create_directories(dest);
  t::write_file(dest / "train-labels-idx1-ubyte.gz", {1, 2, 3});
  const t::CommandResult result = fetch("--source " + t::shell_quote(kMnist.string()) + " " + t::shell_quote(dest.string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("present but its sha256 matches no published value"));
  EXPECT_EQ(fs::file_size(dest / "train-labels-idx1-ubyte.gz"), fs::file_size(kMnist / "train-labels-idx1-ubyte.gz"));
}

TEST_F(FetchData, FashionFromDebianPackageDirectory) {
  const fs::path fashion = TRAIN_GPU_FASHION_DIR;
  if (!fs::is_directory(fashion)) GTEST_SKIP() << "no Fashion-MNIST at " << fashion;
  const fs::path dest = dir_ / "fashion";
  const t::CommandResult result = fetch("--dataset fashion-mnist --source " + t::shell_quote(fashion.string()) + " " +
                                        t::shell_quote(dest.string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("fashion-mnist: all 4 files verified"));
}

TEST_F(FetchData, BadArgumentsGiveOneLineErrors) {
  const std::vector<std::string> bad_arguments{"--dataset cifar10", "--bogus",
                                               "--source /nonexistent/dir " + dir_.path().string()};
  for (const std::string& arguments : bad_arguments) {
    const t::CommandResult result = fetch(arguments);
    EXPECT_NE(result.exit_code, 0) << arguments;
    const auto lines = t::lines_of(result.err);
    ASSERT_EQ(lines.size(), 1u) << arguments << ": " << result.err;
    EXPECT_THAT(lines[0], StartsWith("fetch-data.sh: error: ")) << arguments;
  }
}

TEST_F(FetchData, Help) {
  const t::CommandResult result = fetch("--help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("Usage: tools/fetch-data.sh [--dataset mnist|fashion-mnist]"));
  EXPECT_THAT(result.out, HasSubstr("https://ossci-datasets.s3.amazonaws.com/mnist/"));
}

}  // namespace
}  // namespace train_gpu
