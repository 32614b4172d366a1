// The exported ONNX model in ONNX's own tools: onnx.checker passes (with full shape inference) and
// onnxruntime's outputs on all 10,000 MNIST test images match `train_gpu evaluate` of the same
// checkpoint -- probabilities within 1e-5, the same accuracy to the last digit -- in batches of
// 1, 7, 1000 and 10000. The model is a real one (support/small_trained_model.h).
// And onnxruntime reads the metadata of a model exported from a checkpoint whose file name is not
// UTF-8 (tests/support/onnx_metadata.py).
// And for four specs (the tutorial, Keras's Simple MNIST convnet, a CIFAR-shaped one with
// BatchNormalization, same padding, stride 2, average pooling and dropout, one with a
// BatchNormalization straight after a Flatten and a separate softmax) with seeded random
// weights, onnxruntime's logits and probabilities match a float64 NumPy forward pass of the spec's
// Keras JSON (tests/support/reference_forward.py).
// Runs tests/support/onnx_matches_evaluate.py with TRAIN_GPU_TEST_PYTHON; skips, saying why,
// where that Python lacks onnx or onnxruntime (tools/make-test-venv.sh) or MNIST is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "host/onnx/onnx_export.h"
#include "host/train/checkpoint.h"
#include "support/example_networks.h"
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

// The reference is float64 and onnxruntime computes in float32 with blocked sums: over a dot
// product of K terms the rounding error grows as about sqrt(K) * 2^-24 times the sum of the
// terms' magnitudes, which for K <= 5408 inputs of variance-1/K weights and O(1) activations is
// about sqrt(5408) * 6e-8 * sqrt(5408) ~ 3e-4 of the logits' scale at worst per layer; measured
// 2.3e-6 on the tutorial's logits of magnitude 3.2 and 3.5e-7 on the others'. The bound: 1e-4 of
// the largest logit plus 1e-5; the probabilities, whose softmax contracts differences (measured
// 3.4e-8), within 1e-5.
TEST(OnnxPython, OnnxruntimeMatchesTheFloat64ReferenceOfEverySpec) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_TEST_PYTHON, "numpy, onnx, onnxruntime, safetensors");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  struct Case {
    std::string json;
    model::NetworkSpec spec;
  };
  const Case cases[] = {{"tutorial", model::tutorial_network()},
                        {"simple_mnist_convnet", t::simple_mnist_convnet()},
                        {"cifar_batchnorm", t::cifar_batchnorm_network()},
                        {"flatten_batchnorm", t::flatten_batchnorm_network()}};
  t::TempDir scratch;
  uint64_t seed = 31;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    ++seed;
    const std::vector<float> parameters = c.spec.is_tutorial() ? t::random_parameters(seed) : t::random_parameter_arena(c.spec, seed);
    const std::vector<float> buffers = t::random_buffer_arena(c.spec, seed + 100);
    const std::filesystem::path weights = scratch / (c.json + ".safetensors");
    const std::filesystem::path model = scratch / (c.json + ".onnx");
    t::write_spec_state_dict(weights, c.spec, parameters, buffers);
    write_onnx_model(model, c.spec, parameters, buffers, {});
    const t::MergedCommandResult result = t::run_command_merged(
        t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " " +
        t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/onnx_matches_reference.py") + " " +
        t::shell_quote(model.string()) + " " + t::shell_quote(t::example_model_json(c.json).string()) + " " +
        t::shell_quote(weights.string()) + " " + std::to_string(seed));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    std::map<std::string, std::string> fields = t::key_values(t::lines_of(result.output).back());
    const model::Shape& input = c.spec.input;
    EXPECT_EQ(fields["input_shape"], "N," + std::to_string(input.channels) + "," + std::to_string(input.height) + "," +
                                         std::to_string(input.width));
    EXPECT_EQ(fields["logits_shape"], "6," + std::to_string(c.spec.classes()));
    EXPECT_EQ(fields["outputs"], c.spec.softmax_output ? "logits,probabilities" : "logits");
    const double max_logit = std::stod(fields["max_abs_logit"]);
    EXPECT_GT(max_logit, 0.2) << "logits this small would hide a wrong layer";
    EXPECT_LE(std::stod(fields["logit_difference"]), 1e-4 * max_logit + 1e-5) << result.output;
    if (c.spec.softmax_output) {
      EXPECT_LE(std::stod(fields["probability_difference"]), 1e-5) << result.output;
    }
  }
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
