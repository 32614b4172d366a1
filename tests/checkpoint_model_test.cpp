// Checkpoints of any model (host/train/checkpoint.h): the spec's tensors (parameters in
// nn.Sequential names, Adam's moments of each, BatchNorm's moving statistics) and the model
// itself in the metadata ("keras_model") round-trip bit for bit; the tutorial's file is today's
// but for that one key, and today's files (without it) still load as the tutorial's; a resumed
// run refuses another model; a foreign state_dict is read in the names of the model given.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/keras_json.h"
#include "host/model/model_spec.h"
#include "host/model/spec_line.h"
#include "host/train/checkpoint.h"
#include "host/train/safetensors.h"
#include "support/checkpoint_header.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

const char* const kBatchNormLine = "conv4k3 same nobias, batchnorm momentum=0.9, relu, maxpool2, flatten, dropout0.5, dense10";

void fill(std::vector<float>& arena, std::size_t count, Rng& rng) {
  arena.resize(count);
  for (float& value : arena) value = (rng.uniform01() - 0.5f) * std::ldexp(1.0f, int(rng.below(40)) - 30);
}

Checkpoint random_checkpoint(const model::NetworkSpec& spec, uint64_t seed) {
  Rng rng(seed);
  Checkpoint checkpoint;
  checkpoint.spec = spec;
  fill(checkpoint.state.parameters, spec.parameter_count, rng);
  fill(checkpoint.state.adam_m, spec.parameter_count, rng);
  fill(checkpoint.state.adam_v, spec.parameter_count, rng);
  fill(checkpoint.state.buffers, spec.buffer_count, rng);
  checkpoint.state.step = 42;
  checkpoint.metadata.epoch = 2;
  checkpoint.metadata.seed = 9;
  checkpoint.metadata.dataset = "idx";
  return checkpoint;
}

void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << " differs";
}

// The tensor names of a safetensors file in data order.
std::vector<std::string> names_in_file_order(const fs::path& file) {
  const nlohmann::json header = t::header_of(t::read_file(file));
  std::vector<std::pair<uint64_t, std::string>> by_offset;
  for (const auto& item : header.items()) {
    if (item.key() != "__metadata__") by_offset.emplace_back(item.value().at("data_offsets")[0].get<uint64_t>(), item.key());
  }
  std::sort(by_offset.begin(), by_offset.end());
  std::vector<std::string> names;
  for (const auto& entry : by_offset) names.push_back(entry.second);
  return names;
}

class CheckpointModel : public ::testing::Test {
 protected:
  std::string load_error() const {
    return t::error_of([&] { load_checkpoint(file_); });
  }
  const model::NetworkSpec spec_ = model::network_from_line(kBatchNormLine, model::Shape{3, 8, 8});
  t::TempDir scratch_;
  fs::path file_ = scratch_ / "model.safetensors";
};

TEST_F(CheckpointModel, AnyModelRoundTripsBitExactWithItsSpec) {
  const Checkpoint saved = random_checkpoint(spec_, 5);
  save_checkpoint(file_, saved);
  const Checkpoint loaded = load_checkpoint(file_);
  expect_bitwise_equal(loaded.state.parameters, saved.state.parameters, "parameters");
  expect_bitwise_equal(loaded.state.adam_m, saved.state.adam_m, "adam_m");
  expect_bitwise_equal(loaded.state.adam_v, saved.state.adam_v, "adam_v");
  expect_bitwise_equal(loaded.state.buffers, saved.state.buffers, "buffers");
  EXPECT_EQ(model::keras_json(loaded.spec), model::keras_json(spec_));
  EXPECT_EQ(loaded.metadata.model, spec_.description());

  const nlohmann::json metadata = t::header_of(t::read_file(file_)).at("__metadata__");
  EXPECT_EQ(metadata.at("model"), spec_.description());
  EXPECT_EQ(metadata.at("keras_model"), model::keras_json(spec_));
  // nn.Sequential names: Conv2d 0 (no bias), BatchNorm2d 1, ReLU 2, MaxPool2d 3, Flatten 4, Dropout 5, Linear 6.
  EXPECT_EQ(names_in_file_order(file_),
            (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "6.weight", "6.bias", "optim.m.0.weight",
                                      "optim.m.1.weight", "optim.m.1.bias", "optim.m.6.weight", "optim.m.6.bias",
                                      "optim.v.0.weight", "optim.v.1.weight", "optim.v.1.bias", "optim.v.6.weight",
                                      "optim.v.6.bias", "1.running_mean", "1.running_var"}));
}

TEST_F(CheckpointModel, TheTutorialsFileIsTodaysButForTheKerasModelKey) {
  save_checkpoint(file_, random_checkpoint(model::tutorial_network(), 6));
  std::vector<std::string> expected;
  for (const char* prefix : {"", "optim.m.", "optim.v."}) {
    for (const char* name : {"conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
      expected.push_back(std::string(prefix) + name);
    }
  }
  EXPECT_EQ(names_in_file_order(file_), expected);
  const nlohmann::json metadata = t::header_of(t::read_file(file_)).at("__metadata__");
  std::vector<std::string> keys;
  for (const auto& item : metadata.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"batches_into_epoch", "data_crc32", "dataset", "epoch", "format", "keras_model",
                                            "metadata_crc32", "model", "seed", "step"}));
  EXPECT_EQ(metadata.at("model"), model::kModelDescription);
}

TEST_F(CheckpointModel, ACheckpointWithoutKerasModelIsTheTutorials) {
  const Checkpoint saved = random_checkpoint(model::tutorial_network(), 7);
  save_checkpoint(file_, saved);
  // What the code before models were data wrote: the same file without the key, signed.
  t::edit_header(file_, [](nlohmann::json& header) { header["__metadata__"].erase("keras_model"); });
  const Checkpoint loaded = load_checkpoint(file_);
  EXPECT_TRUE(loaded.spec.is_tutorial());
  EXPECT_EQ(loaded.spec.parameters[0].name, "conv.weight");
  expect_bitwise_equal(loaded.state.parameters, saved.state.parameters, "parameters");
  EXPECT_TRUE(loaded.state.buffers.empty());
}

TEST_F(CheckpointModel, AnotherModelWithoutKerasModelIsRefused) {
  save_checkpoint(file_, random_checkpoint(spec_, 8));
  t::edit_header(file_, [](nlohmann::json& header) { header["__metadata__"].erase("keras_model"); });
  t::expect_contains(load_error(), "checkpoint is for a different model: it holds '" + spec_.description() +
                                       "' without the model itself (no metadata field 'keras_model')");
}

TEST_F(CheckpointModel, AnEditedKerasModelIsRefused) {
  save_checkpoint(file_, random_checkpoint(spec_, 9));
  const std::string other = model::keras_json(model::network_from_line("conv5k3 same nobias, batchnorm momentum=0.9, relu, "
                                                                       "maxpool2, flatten, dropout0.5, dense10",
                                                                       model::Shape{3, 8, 8}));
  t::edit_header(file_, [&](nlohmann::json& header) { header["__metadata__"]["keras_model"] = other; });
  t::expect_contains(load_error(), "checkpoint is for a different model: it holds '" + spec_.description() +
                                       "', but its keras_model describes 'input 3x8x8 > conv(3->5,");
  t::edit_header(file_, [&](nlohmann::json& header) { header["__metadata__"]["keras_model"] = "{"; });
  t::expect_contains(load_error(), file_.string() + ": metadata field 'keras_model': not valid JSON");
}

TEST_F(CheckpointModel, EveryTensorIsCheckedAgainstTheSpec) {
  save_checkpoint(file_, random_checkpoint(spec_, 10));
  t::edit_header(file_, [](nlohmann::json& header) { header["1.running_var"]["shape"] = {2, 2}; });
  t::expect_contains(load_error(), "tensor '1.running_var' has shape [2,2], expected [4]");

  Checkpoint diverged = random_checkpoint(spec_, 11);
  diverged.state.buffers[5] = std::numeric_limits<float>::quiet_NaN();
  save_checkpoint(file_, diverged);
  t::expect_contains(load_error(), "tensor '1.running_var' holds NaN at index [1]");

  Checkpoint short_buffers = random_checkpoint(spec_, 12);
  short_buffers.state.buffers.pop_back();
  t::expect_contains(t::error_of([&] { save_checkpoint(file_, short_buffers); }), "buffers has 7 values, expected 8");
}

TEST_F(CheckpointModel, ResumeRefusesAnotherModel) {
  const Checkpoint checkpoint = random_checkpoint(spec_, 13);
  check_resume_model(checkpoint, model::network_from_line(kBatchNormLine, model::Shape{3, 8, 8}), file_);
  EXPECT_EQ(t::error_of([&] { check_resume_model(checkpoint, model::tutorial_network(), file_); }),
            "--resume " + file_.string() + ": the checkpoint holds the model '" + spec_.description() +
                "' but --model gives '" + model::kModelDescription +
                "'; a resumed run continues the checkpoint's model: leave --model out or give the same model");
}

TEST_F(CheckpointModel, AForeignStateDictIsReadInTheGivenModelsNames) {
  const Checkpoint source = random_checkpoint(spec_, 14);
  std::vector<safetensors::F32TensorView> tensors;
  for (const model::ArenaTensor& tensor : spec_.parameters) {
    tensors.push_back({tensor.name, tensor.shape, source.state.parameters.data() + tensor.offset});
  }
  for (const model::ArenaTensor& tensor : spec_.buffers) {
    tensors.push_back({tensor.name, tensor.shape, source.state.buffers.data() + tensor.offset});
  }
  // PyTorch's BatchNorm2d step counter (int64 there); ignored whatever it holds.
  const float batches = 3;
  tensors.push_back({"1.num_batches_tracked", {}, &batches});
  const std::vector<unsigned char> bytes = safetensors::encode(tensors, {});
  t::write_file(file_, t::Bytes(bytes.begin(), bytes.end()));

  const ModelWeights weights = load_model_weights(file_, &spec_);
  EXPECT_TRUE(weights.foreign);
  expect_bitwise_equal(weights.checkpoint.state.parameters, source.state.parameters, "parameters");
  expect_bitwise_equal(weights.checkpoint.state.buffers, source.state.buffers, "buffers");
  expect_bitwise_equal(weights.checkpoint.state.adam_m, std::vector<float>(spec_.parameter_count, 0.0f), "adam_m");
  EXPECT_EQ(model::keras_json(weights.checkpoint.spec), model::keras_json(spec_));
  // Without the model, the tutorial's names are expected.
  t::expect_contains(t::error_of([&] { load_model_weights(file_); }), "missing tensor 'conv.weight'");
}

}  // namespace
}  // namespace train_gpu
