// --model's three forms (host/model/model_option.h, host/cli/model_options.h) and the summary
// command that shows them: tutorial by default, a *.json file read as Keras's JSON, anything else
// the one-line form; a bad value is one error line from the real process.
#include "host/model/model_option.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "host/cli/model_options.h"
#include "host/common/error.h"
#include "host/model/keras_json.h"
#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "support/one_error_line.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;
using model::Shape;

const Shape kMnist{1, 28, 28};
const Shape kCifar{3, 32, 32};

TEST(ModelOption, TutorialIsTheTutorialOnMnistAndItsLayersElsewhere) {
  const model::NetworkSpec mnist = model::network_from_option("tutorial", kMnist);
  EXPECT_TRUE(mnist.is_tutorial());
  EXPECT_EQ(mnist.parameters[0].name, "conv.weight");
  const model::NetworkSpec cifar = model::network_from_option("tutorial", kCifar);
  EXPECT_FALSE(cifar.is_tutorial());
  EXPECT_EQ(cifar.input, kCifar);
  // conv 32*3*9+32, dense (32*15*15)*128+128, dense 128*10+10.
  EXPECT_EQ(cifar.parameter_count, 896u + 921728u + 1290u);
  EXPECT_EQ(cifar.description(),
            "input 3x32x32 > conv(3->32,3x3,valid)+relu > maxpool2x2 > flatten(7200) > dense(128)+relu > dense(10)");
}

TEST(ModelOption, AJsonPathIsReadAsKerasJsonAndALineAsTheOneLineForm) {
  t::TempDir scratch;
  const model::NetworkSpec line = model::network_from_option("conv8k3 relu, maxpool2, flatten, dense10 softmax", kCifar);
  const std::string file = (scratch / "Net.JSON").string();
  std::ofstream(file) << model::keras_json(line);
  const model::NetworkSpec read = model::network_from_option(file, kCifar);
  EXPECT_EQ(model::keras_json(read), model::keras_json(line));
  EXPECT_NE(t::error_of([&] { model::network_from_option(file, kMnist); }).find("but the data's images are 1x28x28"),
            std::string::npos);
  // Without data (summary), the file keeps its own input.
  EXPECT_EQ(model::network_from_option_without_data(file, kMnist).input, kCifar);
  t::expect_contains(t::error_of([&] { model::network_from_option((scratch / "missing.json").string(), kMnist); }),
                     "missing.json: cannot open: No such file or directory");
  t::expect_contains(t::error_of([&] { model::network_from_option(scratch.path().string() + "/", kMnist); }),
                     "unknown layer");
  t::expect_contains(t::error_of([&] { model::network_from_option(" ", kMnist); }),
                     "--model is empty; expected tutorial, a Keras JSON file (*.json) or a one-line model");
}

TEST(ModelOption, InputShapesAreChannelsByHeightByWidth) {
  EXPECT_EQ(cli::parse_input_shape("3x32x32", "--input"), kCifar);
  for (const char* bad : {"", "3x32", "3x32x32x1", "0x28x28", "ax28x28", "3x32x32 ", "-1x2x2"}) {
    EXPECT_EQ(t::error_of([&] { cli::parse_input_shape(bad, "--input"); }),
              std::string("--input '") + bad + "': expected CxHxW (channels x height x width), e.g. 1x28x28 or 3x32x32");
  }
}

class SummaryCommand : public ::testing::Test {
 protected:
  t::CommandResult run(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " summary " + arguments, scratch_.path());
  }
  t::TempDir scratch_;
};

TEST_F(SummaryCommand, ShowsTheTutorialByDefault) {
  const t::CommandResult result = run("");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  t::expect_contains(result.out, "conv2d (Conv2D)              (None, 26, 26, 32)                320\n");
  t::expect_contains(result.out, "Total params: 693,962\nTrainable params: 693,962\nNon-trainable params: 0\n");
}

TEST_F(SummaryCommand, ShowsAOneLineModelOnTheGivenInput) {
  const t::CommandResult result =
      run("--input 3x32x32 --model 'conv16k3 s2 same nobias, batchnorm, relu, avgpool2, flatten, dropout0.3, dense10 softmax'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  t::expect_contains(result.out, "Model: \"sequential\" (input 3x32x32)\n");
  t::expect_contains(result.out, "batch_normalization (BatchNormalization) (None, 16, 16, 16)                 64\n");
  // Keras's count for the same layers: 432 + 4*16 + (16*8*8)*10+10; BatchNorm's 32 moving statistics non-trainable.
  t::expect_contains(result.out, "Total params: 10,746\nTrainable params: 10,714\nNon-trainable params: 32\n");
}

TEST_F(SummaryCommand, PrintsTheLineAndTheKerasJsonOfAModel) {
  t::CommandResult result = run("--print line --model 'conv32k3 relu, maxpool2 , flatten,dense128 relu, dense10'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "conv32k3 relu, maxpool2, flatten, dense128 relu, dense10\n");
  result = run("--print keras-json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, model::keras_json(model::tutorial_network()) + "\n");
}

TEST_F(SummaryCommand, AJsonsSetAsideInitializersAreNotes) {
  std::string json = model::keras_json(model::tutorial_network());
  const std::string glorot = "\"class_name\":\"GlorotUniform\"";
  json.replace(json.find(glorot), glorot.size(), "\"class_name\":\"HeNormal\"");
  std::ofstream(scratch_ / "he.json") << json;
  const t::CommandResult result = run("--model " + t::shell_quote((scratch_ / "he.json").string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "note: " + (scratch_ / "he.json").string() +
                            ": layer 2 'conv2d' (Conv2D): kernel_initializer \"HeNormal\" is set aside: training here "
                            "starts from Keras's default, GlorotUniform\n");
}

TEST_F(SummaryCommand, BadModelsAreOneErrorLine) {
  t::expect_one_error_line(run("--model 'conv32k3 relu, dens10'"), "--model: item 2 'dens10': unknown layer 'dens10'");
  std::ofstream(scratch_ / "broken.json") << "{\"class_name\": \"Sequential\", ";
  t::expect_one_error_line(run("--model " + t::shell_quote((scratch_ / "broken.json").string())), "broken.json: not valid JSON");
  t::expect_one_error_line(run("--input 3x32x32 --model " + t::shell_quote((scratch_ / "none.json").string())),
                           "none.json: cannot open");
}

// A trained model's summary, as Keras's load_model(path).summary(): the checkpoint's own model and
// input shape, the same table --model and --input give for it; the checkpoint is named on stderr.
TEST_F(SummaryCommand, ShowsTheModelACheckpointHolds) {
  const char* const line = "conv16k3 s2 same nobias, batchnorm, relu, avgpool2, flatten, dropout0.3, dense10 softmax";
  Checkpoint checkpoint;
  checkpoint.spec = model::network_from_option(line, kCifar);
  checkpoint.state.parameters.assign(checkpoint.spec.parameter_count, 0.25f);
  checkpoint.state.adam_m.assign(checkpoint.spec.parameter_count, 0.0f);
  checkpoint.state.adam_v.assign(checkpoint.spec.parameter_count, 0.0f);
  checkpoint.state.buffers.assign(checkpoint.spec.buffer_count, 1.0f);
  checkpoint.state.step = 17;
  checkpoint.metadata.epoch = 2;
  checkpoint.metadata.dataset = "cifar10";
  const std::string file = (scratch_ / "epoch-002.safetensors").string();
  save_checkpoint(file, checkpoint);

  const t::CommandResult from_file = run("--checkpoint " + t::shell_quote(file));
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  const t::CommandResult from_line = run("--input 3x32x32 --model " + t::shell_quote(line));
  ASSERT_EQ(from_line.exit_code, 0) << from_line.err;
  EXPECT_EQ(from_file.out, from_line.out);
  t::expect_contains(from_file.out, "Total params: 10,746\n");
  EXPECT_EQ(from_file.err, "checkpoint " + file + ": epoch 2, step 17, trained on cifar10\n");
  EXPECT_EQ(run("--print line --checkpoint " + t::shell_quote(file)).out, std::string(line) + "\n");

  // It is the checkpoint's model or --model's, never a mix.
  for (const char* other : {" --model tutorial", " --input 3x32x32"}) {
    const t::CommandResult both = run("--checkpoint " + t::shell_quote(file) + other);
    EXPECT_NE(both.exit_code, 0) << other;
    t::expect_contains(both.err, "excludes");
    t::expect_contains(both.err, "--checkpoint");
  }
  std::ofstream(scratch_ / "notes.safetensors") << "not a checkpoint";
  t::expect_one_error_line(run("--checkpoint " + t::shell_quote((scratch_ / "notes.safetensors").string())),
                           "notes.safetensors");
}

}  // namespace
}  // namespace train_gpu
