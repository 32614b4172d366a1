// A bad checkpoint given to each command that reads one, run as a user runs them (the built
// binary): weights holding NaN or infinity (a diverged model), metadata no run could have written,
// and metadata that fails its checksum are each one error line naming the tensor or the field and
// a non-zero exit -- not a 9.80% evaluation, an ONNX model that outputs NaN, a fake epoch row in
// metrics.csv or a bare "stoll". Skips without MNIST.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "host/train/run_directory.h"
#include "support/checkpoint_header.h"
#include "support/mnist_subset.h"
#include "support/one_error_line.h"
#include "support/random_model.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using t::expect_one_error_line;

class CheckpointCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  }

  t::CommandResult train_gpu(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " " + arguments, scratch_.path());
  }

  static std::string data_args() { return "--device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR); }

  t::TempDir scratch_;
};

TEST_F(CheckpointCommands, NonFiniteWeightsAreRefusedByEveryCommandNamingTheTensor) {
  std::vector<float> parameters = t::random_parameters(3);
  parameters[model::kFc1WeightOffset + 2 * 5408 + 100] = std::numeric_limits<float>::quiet_NaN();
  const fs::path checkpoint = scratch_ / "diverged.safetensors";
  save_checkpoint(checkpoint, t::checkpoint_of(parameters));
  const std::string expected = "checkpoint " + checkpoint.string() + ": tensor 'fc1.weight' holds NaN at index [2, 100]";
  const std::string given = " --checkpoint " + t::shell_quote(checkpoint.string());
  const fs::path out = scratch_ / "out";

  SCOPED_TRACE("evaluate");
  expect_one_error_line(train_gpu("evaluate" + given + " " + data_args() + " --out " + t::shell_quote(out.string())), expected);
  EXPECT_FALSE(fs::exists(out)) << "evaluate wrote a report of a NaN model";
  SCOPED_TRACE("export");
  expect_one_error_line(train_gpu("export" + given + " --out " + t::shell_quote((scratch_ / "model.onnx").string())), expected);
  EXPECT_FALSE(fs::exists(scratch_ / "model.onnx")) << "export wrote a model that outputs NaN";
  SCOPED_TRACE("features");
  expect_one_error_line(train_gpu("features" + given + " --index 0 " + data_args() + " --out " + t::shell_quote(out.string())),
                        expected);
  SCOPED_TRACE("predict");
  const std::string images = t::shell_quote((fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-images-idx3-ubyte.gz").string());
  expect_one_error_line(train_gpu("predict --device cpu" + given + " " + images + " --index 0"), expected);
  SCOPED_TRACE("train --resume");
  expect_one_error_line(train_gpu("train --resume " + t::shell_quote(checkpoint.string()) + " " +
                                  data_args() + " --limit-train 640 --limit-test 200 --no-progress"),
                        expected);
}

// A real one-epoch run's checkpoint, edited; every edit is refused by `train --resume` and by
// `evaluate` before anything is trained, written or evaluated.
TEST_F(CheckpointCommands, MetadataNoRunCouldHaveWrittenIsRefusedNamingTheField) {
  const fs::path run = scratch_ / "run";
  const std::string limits = " --limit-train 640 --limit-test 200 --no-progress --no-tensorboard";
  const t::CommandResult trained = train_gpu("train --epochs 1 --run-dir " + t::shell_quote(run.string()) + " " + data_args() + limits);
  ASSERT_EQ(trained.exit_code, 0) << trained.out << trained.err;
  const fs::path checkpoint = checkpoint_path(run, 1);
  const t::Bytes original = t::read_file(checkpoint);
  const std::string metrics = t::read_text(run / "metrics.csv");

  const auto refused_everywhere = [&](const std::string& expected) {
    SCOPED_TRACE(expected);
    expect_one_error_line(train_gpu("train --epochs 2 --resume " + t::shell_quote(checkpoint.string()) + " " + data_args() + limits),
                          "checkpoint " + checkpoint.string() + ": " + expected);
    EXPECT_EQ(t::read_text(run / "metrics.csv"), metrics) << "the resume wrote an epoch";
    expect_one_error_line(train_gpu("evaluate --checkpoint " + t::shell_quote(checkpoint.string()) + " " + data_args() +
                                    " --limit-test 200 --out " + t::shell_quote((scratch_ / "evaluation").string())),
                          "checkpoint " + checkpoint.string() + ": " + expected);
    t::write_file(checkpoint, original);
  };
  // The cases: std::stoll's message, and a position past the epoch's last batch that
  // made the resumed run write an epoch row it never trained.
  t::edit_header(checkpoint, [](nlohmann::json& header) { header["__metadata__"]["x.batch_size"] = "abc"; });
  refused_everywhere("metadata field 'x.batch_size' is 'abc', expected an integer from 1 to 65536");
  t::edit_header(checkpoint, [](nlohmann::json& header) { header["__metadata__"]["batches_into_epoch"] = "9223372036854775807"; });
  refused_everywhere("metadata field 'batches_into_epoch' is '9223372036854775807', expected an integer from 0 to 9 "
                     "(640 training images in batches of 64 make 10 batches an epoch)");
  // The same value without signing the metadata again: the checksum catches it first.
  t::edit_header_unsigned(checkpoint, [](nlohmann::json& header) { header["__metadata__"]["batches_into_epoch"] = "5"; });
  refused_everywhere("metadata checksum mismatch: the metadata is corrupt or was edited");

  // Untouched, it resumes.
  const t::CommandResult resumed =
      train_gpu("train --epochs 2 --resume " + t::shell_quote(checkpoint.string()) + " " + data_args() + limits);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
}

}  // namespace
}  // namespace train_gpu
