// Keras itself against our reading and writing of its JSON (host/model/keras_json.h): the venv's
// Keras builds the tutorial, Keras's Simple MNIST convnet and a CIFAR-shaped network (BatchNorm,
// same padding, strides 2, average pooling, Dropout, Activation and ReLU layers) and writes their
// to_json() and count_params() (tests/support/keras_models.py); our reader must give the same
// output shapes and parameter counts (trainable and not), `train_gpu summary --model FILE` (the
// real process) the same totals, and our `--print keras-json` must come back through
// keras.models.model_from_json as the same layers with the same configs. Needs
// TRAIN_GPU_KERAS_PYTHON with TensorFlow (the test venv has it); skipped, saying why, otherwise.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "host/common/format.h"
#include "host/model/keras_json.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

std::string keras_models_script() {
  return t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/keras_models.py");
}

// Our output shape in Keras's list form: [null, H, W, C] until Flatten or Dense, then [null, F].
nlohmann::json keras_shape(const model::Shape& shape, bool image) {
  if (!image) return {nullptr, shape.size()};
  return {nullptr, shape.height, shape.width, shape.channels};
}

TEST(KerasModelPython, OurReaderSummaryAndWriterAgreeWithKeras) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, tensorflow",
                                                "configure with -DTRAIN_GPU_KERAS_PYTHON=<a python with tensorflow>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  t::TempDir scratch;
  const std::string python = t::shell_quote(TRAIN_GPU_KERAS_PYTHON);
  const t::MergedCommandResult written =
      t::run_command_merged(python + " " + keras_models_script() + " write " + t::shell_quote(scratch.path().string()));
  ASSERT_EQ(written.exit_code, 0) << written.output;
  const std::string models = t::key_values(t::lines_of(written.output).back())["models"];
  ASSERT_EQ(models, "tutorial,simple_mnist_convnet,cifar") << written.output;

  for (const char* name : {"tutorial", "simple_mnist_convnet", "cifar"}) {
    SCOPED_TRACE(name);
    const fs::path json_file = scratch / (std::string(name) + ".json");
    const nlohmann::json keras_says = nlohmann::json::parse(t::read_text(scratch / (std::string(name) + ".keras-says.json")));

    // Our reader, in process: shapes layer by layer and the parameter split.
    const model::NetworkSpec spec = model::network_from_keras_json(t::read_text(json_file), json_file.string(), nullptr);
    EXPECT_EQ(spec.parameter_count + spec.buffer_count, keras_says["total"].get<std::size_t>());
    EXPECT_EQ(spec.parameter_count, keras_says["trainable"].get<std::size_t>());
    EXPECT_EQ(spec.buffer_count, keras_says["non_trainable"].get<std::size_t>());
    ASSERT_EQ(spec.layers.size(), keras_says["shapes"].size());
    bool image = true;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      const model::LayerSpec& layer = spec.layers[i];
      if (layer.kind == model::LayerKind::kFlatten || layer.kind == model::LayerKind::kDense) image = false;
      EXPECT_EQ(keras_shape(layer.output, image), keras_says["shapes"][i]) << "layer " << i + 1 << " " << layer.name;
    }
    EXPECT_EQ(spec.is_tutorial(), std::string(name) == "tutorial");

    // The command, as a user runs it.
    const t::CommandResult summary =
        t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " summary --model " + t::shell_quote(json_file.string()), scratch.path());
    ASSERT_EQ(summary.exit_code, 0) << summary.err;
    EXPECT_EQ(summary.err, "");
    t::expect_contains(summary.out, "Total params: " + with_thousands(keras_says["total"].get<int64_t>()) + "\n");
    t::expect_contains(summary.out, "Trainable params: " + with_thousands(keras_says["trainable"].get<int64_t>()) + "\n");
    t::expect_contains(summary.out, "Non-trainable params: " + with_thousands(keras_says["non_trainable"].get<int64_t>()) + "\n");

    // Our JSON, back through Keras.
    const t::CommandResult ours = t::run_command(
        t::shell_quote(TRAIN_GPU_BINARY) + " summary --print keras-json --model " + t::shell_quote(json_file.string()), scratch.path());
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    const fs::path ours_file = scratch / (std::string(name) + ".ours.json");
    t::write_file(ours_file, t::Bytes(ours.out.begin(), ours.out.end()));
    const t::MergedCommandResult compared = t::run_command_merged(python + " " + keras_models_script() + " compare " +
                                                                  t::shell_quote(json_file.string()) + " " +
                                                                  t::shell_quote(ours_file.string()));
    ASSERT_EQ(compared.exit_code, 0) << compared.output;
    std::map<std::string, std::string> values = t::key_values(t::lines_of(compared.output).back());
    EXPECT_EQ(values["differences"], "0") << compared.output;
    EXPECT_EQ(values["layers"], std::to_string(spec.layers.size())) << compared.output;
    EXPECT_EQ(values["total_ours"], keras_says["total"].dump()) << compared.output;
  }
}

}  // namespace
}  // namespace train_gpu
