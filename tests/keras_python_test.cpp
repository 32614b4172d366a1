// tools/to_keras.py: the tutorial's network as a keras.Sequential of standard layers with our
// weights. Two kinds of test:
// - the layout conversion (conv kernel OIHW -> HWIO, fc1's columns from (c,h,w) to Keras
//   Flatten's (h,w,c) order, dense kernels transposed), checked with numpy alone against the NCHW
//   forward pass of tools/checkpoint_accuracy.py: runs wherever /usr/bin/python3 has numpy (CI);
// - the real thing in TensorFlow: a trained checkpoint converted to OUT.keras and to
//   OUT.weights.h5, each opened as a Keras user opens it in a fresh `python -I` that imports
//   nothing of ours (keras.models.load_model; README.md's Sequential snippet + load_weights), its
//   probabilities on the 10,000 test images against `evaluate`'s. Needs TRAIN_GPU_KERAS_PYTHON
//   with TensorFlow: the test venv has it (tools/requirements-test.txt, also in CI); skipped,
//   saying why, otherwise.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "support/random_model.h"
#include "support/small_trained_model.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

std::string script(const char* name) { return t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/" + name); }

TEST(KerasPython, LayoutConversionReproducesTheNchwForwardPass) {
  if (!t::system_python_has("numpy")) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  t::TempDir scratch;
  const Checkpoint checkpoint = t::checkpoint_of(t::random_parameters(17));
  save_checkpoint(scratch / "epoch-001.safetensors", checkpoint);
  t::write_state_dict(scratch / "net.safetensors", checkpoint.state.parameters);

  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 " + script("keras_layout_check.py") + " " +
                            t::shell_quote((scratch / "epoch-001.safetensors").string()) + " " +
                            t::shell_quote((scratch / "net.safetensors").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::map<std::string, std::string> values = t::key_values(t::lines_of(result.output).back());
  // float32 both ways, summed in different orders (einsum vs im2col GEMM, 5,408-term dots):
  // ~1e-6 of the largest logit; 1e-4 still catches any layout slip, which is O(1).
  EXPECT_LE(std::stod(values["checkpoint_relative_difference"]), 1e-4) << result.output;
  EXPECT_LE(std::stod(values["state_dict_relative_difference"]), 1e-4) << result.output;
  EXPECT_EQ(values["strict_reader_on_state_dict"], "refused") << "checkpoint_accuracy.py stays strict by default";
}

// Issue 24, item 5: the .keras file is self-contained (standard layers, no class of ours), and the
// weights file loads into the README's plain Sequential.
TEST(KerasPython, KerasFileAndWeightsOpenWithoutOurCodeAndMatchEvaluate) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, tensorflow",
                                                "configure with -DTRAIN_GPU_KERAS_PYTHON=<a python with tensorflow>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  const t::SmallTrainedModel trained = t::train_small_model(scratch.path());
  ASSERT_FALSE(trained.checkpoint.empty());
  const std::string python = t::shell_quote(TRAIN_GPU_KERAS_PYTHON);
  const std::string source_dir = std::string(TRAIN_GPU_SOURCE_DIR);
  const std::string evaluation_and_data =
      " " + t::shell_quote(trained.evaluation.string()) + " " + t::shell_quote(TRAIN_GPU_MNIST_DIR);

  for (const char* name : {"model.keras", "model.weights.h5"}) {
    SCOPED_TRACE(name);
    const fs::path file = scratch / name;
    t::MergedCommandResult result = t::run_command_merged(python + " " + t::shell_quote(source_dir + "/tools/to_keras.py") +
                                                          " " + t::shell_quote(trained.checkpoint.string()) + " " +
                                                          t::shell_quote(file.string()));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    t::expect_contains(result.output, "wrote " + file.string());

    const std::string how = file.extension() == ".keras"
                                ? " --keras " + t::shell_quote(file.string())
                                : " --weights " + t::shell_quote(file.string()) + " " + t::shell_quote(source_dir + "/README.md");
    result = t::run_command_merged(python + " " + script("keras_matches_evaluate.py") + how + evaluation_and_data);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    t::expect_matches_evaluate(result.output);
    std::map<std::string, std::string> values = t::key_values(t::lines_of(result.output).back());
    EXPECT_EQ(values["layers"], "Conv2D,MaxPooling2D,Flatten,Dense,Dense") << result.output;
    EXPECT_EQ(values["repository_modules"], "0") << result.output;
    // Logits (centred; see keras_matches_evaluate.py) of every image: no probability of this
    // model underflows float32 (the smallest is ~2e-10). Both sides are float32 forward passes
    // differing in summation order (our CPU backend vs TensorFlow's kernels, 5,408-term dots):
    // ~1e-6 of the logits' size, which reaches ~13 here -- measured 4.6e-6 apart. 1e-4 leaves 20x room; a layout slip
    // (a permuted flatten, a transposed kernel) moves logits by whole units.
    EXPECT_EQ(values["logit_rows"], "10000") << result.output;
    EXPECT_LE(std::stod(values["logit_max_abs_difference"]), 1e-4) << result.output;
  }
}

// Any model a checkpoint records (metadata "keras_model": the JSON Keras's to_json() wrote, here
// tests/support/models/*.json): to_keras.py rebuilds it and sets its weights, and the .keras file
// and the weights file both reproduce a float64 NumPy forward pass of the spec in train_gpu's own
// layouts (tests/support/reference_forward.py) -- Keras's channels last against our channels
// first, so every kernel transpose and the (c,h,w) -> (h,w,c) rows of a Dense (and of a
// BatchNormalization) after a Flatten are checked. Compared as centred logits: float32 against
// float64 through at most 1,600-term dots of O(1) values, about sqrt(1600) * 6e-8 ~ 2.4e-6 per
// layer (measured 2e-7); 1e-5 holds that, while a layout slip moves logits by ~1 (measured 1.09
// with flatten_batchnorm's permutation left out).
TEST(KerasPython, AnySpecsCheckpointBecomesAKerasModelThatMatchesTheReference) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, tensorflow, safetensors",
                                                "configure with -DTRAIN_GPU_KERAS_PYTHON=<a python with tensorflow>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  for (const char* json : {"simple_mnist_convnet", "cifar_batchnorm", "flatten_batchnorm"}) {
    SCOPED_TRACE(json);
    t::TempDir scratch;
    const std::string model_json = std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/models/" + json + ".json";
    const t::MergedCommandResult result =
        t::run_command_merged(t::shell_quote(TRAIN_GPU_KERAS_PYTHON) + " " + script("keras_spec_matches_reference.py") + " " +
                              t::shell_quote(model_json) + " " + t::shell_quote(scratch.path().string()) + " 7");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    std::map<std::string, std::string> values = t::key_values(t::lines_of(result.output).back());
    EXPECT_GT(std::stod(values["max_abs_logit"]), 0.1) << "logits this flat would hide a layout slip";
    EXPECT_LE(std::stod(values["keras_difference"]), 1e-5) << result.output;
    EXPECT_LE(std::stod(values["weights_difference"]), 1e-5) << result.output;
  }
}

// A checkpoint whose keras_model has a layer train_gpu does not run: one error line naming it.
TEST(KerasPython, AnUnsupportedLayerInTheRecordedModelIsOneErrorLine) {
  if (!t::system_python_has("numpy")) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  t::TempDir scratch;
  const std::filesystem::path checkpoint = scratch / "epoch-001.safetensors";
  t::write_state_dict(checkpoint, t::random_parameters(3),
                      {{"format", "train_gpu-checkpoint-v1"},
                       {"keras_model", R"({"class_name": "Sequential", "config": {"layers": [)"
                                       R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},)"
                                       R"({"class_name": "LSTM", "config": {"name": "lstm", "units": 4}}]}})"}});
  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 " + t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/to_keras.py") +
                            " " + t::shell_quote(checkpoint.string()) + " " + t::shell_quote((scratch / "m.keras").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(t::lines_of(result.output).size(), 1u) << result.output;
  t::expect_contains(result.output, "layer lstm: LSTM is not supported");
  t::expect_contains(result.output, checkpoint.string());
}

TEST(KerasPython, OutputNameMustEndInKerasOrWeightsH5) {
  t::TempDir scratch;
  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 " + t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/to_keras.py") +
                            " missing.safetensors " + t::shell_quote((scratch / "model.h5").string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  t::expect_contains(result.output, "expected a name ending in .keras (the whole model, what keras.models.load_model opens) "
                                    "or .weights.h5 (the weights alone)");
}

}  // namespace
}  // namespace train_gpu
