// The exported ONNX model in ONNX's own tools: onnx.checker passes (with full shape inference) and
// onnxruntime's outputs on all 10,000 MNIST test images match `train_gpu evaluate` of the same
// checkpoint -- probabilities within 1e-5, the same accuracy to the last digit -- in batches of
// 1, 7, 1000 and 10000. The model is a real one (support/small_trained_model.h).
// And onnxruntime reads the metadata of a model exported from a checkpoint whose file name is not
// UTF-8 (tests/support/onnx_metadata.py).
// Runs tests/support/onnx_matches_evaluate.py with TRAIN_GPU_TEST_PYTHON; skips, saying why,
// where that Python lacks onnx or onnxruntime (tools/make-test-venv.sh) or MNIST is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "host/train/checkpoint.h"
#include "support/random_model.h"
#include "support/small_trained_model.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

TEST(OnnxPython, OnnxruntimeMatchesEvaluateOnTheTestSet) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_TEST_PYTHON, "numpy, onnx, onnxruntime");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  const t::SmallTrainedModel trained = t::train_small_model(scratch.path());
  ASSERT_FALSE(trained.checkpoint.empty());
  const std::filesystem::path model = scratch / "model.onnx";
  t::MergedCommandResult result = t::run_command_merged(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " +
                                                        t::shell_quote(trained.checkpoint.string()) + " --out " +
                                                        t::shell_quote(model.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  result = t::run_command_merged(t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " " +
                                 t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/onnx_matches_evaluate.py") +
                                 " " + t::shell_quote(model.string()) + " " + t::shell_quote(trained.evaluation.string()) +
                                 " " + t::shell_quote(TRAIN_GPU_MNIST_DIR));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_matches_evaluate(result.output);
  EXPECT_EQ(t::key_values(t::lines_of(result.output).back())["input_shape"], "N,1,28,28") << result.output;
}

// Before the exporter repaired it, a Latin-1 file name went into the metadata as it was, and
// get_modelmeta() raised UnicodeDecodeError.
TEST(OnnxPython, OnnxruntimeReadsTheMetadataOfANonUtf8CheckpointName) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_TEST_PYTHON, "onnxruntime");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  t::TempDir scratch;
  const std::filesystem::path checkpoint = scratch / "r\xE9seau.safetensors";  // Latin-1 e-acute
  save_checkpoint(checkpoint, t::checkpoint_of(t::random_parameters(11)));
  const std::filesystem::path model = scratch / "model.onnx";
  t::MergedCommandResult result = t::run_command_merged(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " +
                                                        t::shell_quote(checkpoint.string()) + " --out " +
                                                        t::shell_quote(model.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = t::run_command_merged(t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " " +
                                 t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/onnx_metadata.py") + " " +
                                 t::shell_quote(model.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // json.dumps writes U+FFFD as \ufffd.
  t::expect_contains(result.output, R"("train_gpu.checkpoint": "r\ufffdseau.safetensors")");
}

}  // namespace
}  // namespace train_gpu
