// Checkpoints: a round trip restores every tensor and metadata value bit for bit, the file is
// plain safetensors in PyTorch names and layouts, and each kind of damage (truncation, flipped
// bits, edited headers, trailing garbage, another model) is refused with a message saying so.
#include "host/train/checkpoint.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "host/model/model_spec.h"
#include "host/train/safetensors.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)
using t::Bytes;

constexpr std::size_t kTensorBytes = 3 * model::kParameterCount * sizeof(float);

uint64_t header_length_of(const Bytes& bytes) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[static_cast<std::size_t>(i)];
  return length;
}

nlohmann::json header_of(const Bytes& bytes) {
  const auto begin = bytes.begin() + 8;
  return nlohmann::json::parse(begin, begin + static_cast<std::ptrdiff_t>(header_length_of(bytes)));
}

// Replaces the header with `header` (padded as the writer pads), keeping the data section.
void replace_header(const fs::path& file, const nlohmann::json& header) {
  const Bytes bytes = t::read_file(file);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_length_of(bytes));
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  Bytes rewritten;
  for (int i = 0; i < 8; ++i) rewritten.push_back(static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i)));
  rewritten.insert(rewritten.end(), text.begin(), text.end());
  rewritten.insert(rewritten.end(), bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  t::write_file(file, rewritten);
}

void edit_header(const fs::path& file, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json header = header_of(t::read_file(file));
  edit(header);
  replace_header(file, header);
}

// Random values of both signs and magnitudes like trained weights and Adam moments, plus values
// whose bits a lossy path (text, float64 round trip of a NaN payload) would change.
Checkpoint random_checkpoint(uint64_t seed) {
  Rng rng(seed);
  Checkpoint checkpoint;
  for (std::vector<float>* arena : {&checkpoint.state.parameters, &checkpoint.state.adam_m, &checkpoint.state.adam_v}) {
    arena->resize(model::kParameterCount);
    for (float& value : *arena) value = (rng.uniform01() - 0.5f) * std::ldexp(1.0f, int(rng.below(40)) - 30);
  }
  checkpoint.state.parameters[0] = -0.0f;
  checkpoint.state.parameters[1] = std::numeric_limits<float>::denorm_min();
  uint32_t nan_bits = 0x7fc01234u;  // a quiet NaN with a payload
  std::memcpy(&checkpoint.state.adam_v.back(), &nan_bits, sizeof nan_bits);
  checkpoint.state.step = 1234567;
  checkpoint.metadata.epoch = 3;
  checkpoint.metadata.batches_into_epoch = 17;
  checkpoint.metadata.seed = std::numeric_limits<uint64_t>::max();  // all 64 bits must survive the text form
  checkpoint.metadata.dataset = "fashion-mnist";
  checkpoint.metadata.extra = {{"batch_size", "32"}, {"format", "clashes with ours only without the prefix"},
                               {"train_loss_sum", "123.456"}};
  return checkpoint;
}

void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << " differs";
}

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = scratch_.path() / "model.safetensors";
    save_checkpoint(file_, random_checkpoint(7));
  }
  std::string load_error() const {
    return t::error_of([&] { load_checkpoint(file_); });
  }

  t::TempDir scratch_;
  fs::path file_;
};

TEST_F(CheckpointFile, RoundTripIsBitExact) {
  const Checkpoint saved = random_checkpoint(7);
  const Checkpoint loaded = load_checkpoint(file_);
  expect_bitwise_equal(loaded.state.parameters, saved.state.parameters, "parameters");
  expect_bitwise_equal(loaded.state.adam_m, saved.state.adam_m, "adam_m");
  expect_bitwise_equal(loaded.state.adam_v, saved.state.adam_v, "adam_v");
  EXPECT_EQ(loaded.state.step, saved.state.step);
  EXPECT_EQ(loaded.metadata.epoch, saved.metadata.epoch);
  EXPECT_EQ(loaded.metadata.batches_into_epoch, saved.metadata.batches_into_epoch);
  EXPECT_EQ(loaded.metadata.seed, saved.metadata.seed);
  EXPECT_EQ(loaded.metadata.dataset, saved.metadata.dataset);
  EXPECT_EQ(loaded.metadata.model, model::kModelDescription);
  EXPECT_EQ(loaded.metadata.extra, saved.metadata.extra);
}

TEST_F(CheckpointFile, SavingAgainReplacesTheFile) {
  Checkpoint other = random_checkpoint(8);
  other.metadata.extra.clear();
  save_checkpoint(file_, other);
  const Checkpoint loaded = load_checkpoint(file_);
  expect_bitwise_equal(loaded.state.parameters, other.state.parameters, "parameters");
  EXPECT_TRUE(loaded.metadata.extra.empty());
  // Only the checkpoint: no temporary left next to it.
  EXPECT_EQ(std::distance(fs::directory_iterator(scratch_.path()), fs::directory_iterator()), 1);
}

TEST_F(CheckpointFile, IsPlainSafetensorsInPyTorchNames) {
  const Bytes bytes = t::read_file(file_);
  const uint64_t header_length = header_length_of(bytes);
  EXPECT_EQ(header_length % 8, 0u) << "the data section must start 8-byte aligned for mmap";
  ASSERT_EQ(bytes.size(), 8 + header_length + kTensorBytes);
  EXPECT_EQ(bytes[8], '{');

  const nlohmann::json header = header_of(bytes);
  const nlohmann::json& metadata = header.at("__metadata__");
  for (const auto& item : metadata.items()) EXPECT_TRUE(item.value().is_string()) << item.key();
  EXPECT_EQ(metadata.at("format"), "train_gpu-checkpoint-v1");
  EXPECT_EQ(metadata.at("step"), "1234567");
  EXPECT_EQ(metadata.at("epoch"), "3");
  EXPECT_EQ(metadata.at("batches_into_epoch"), "17");
  EXPECT_EQ(metadata.at("seed"), "18446744073709551615");
  EXPECT_EQ(metadata.at("dataset"), "fashion-mnist");
  EXPECT_EQ(metadata.at("model"), model::kModelDescription);
  EXPECT_EQ(metadata.at("x.batch_size"), "32");
  EXPECT_EQ(metadata.at("x.format"), "clashes with ours only without the prefix");

  // data_crc32 is zlib's crc32 of the whole data section, as Python's zlib.crc32 computes it.
  const unsigned char* data = bytes.data() + 8 + header_length;
  char expected_crc[9];
  std::snprintf(expected_crc, sizeof expected_crc, "%08lx", crc32_z(0, data, kTensorBytes));
  EXPECT_EQ(metadata.at("data_crc32"), expected_crc);

  // Parameters, then optim.m.*, then optim.v.*, each in arena order, back to back.
  const Checkpoint saved = random_checkpoint(7);
  uint64_t expected_begin = 0;
  EXPECT_EQ(header.size(), 1u + 3u * model::kTensorCount);
  for (const std::string prefix : {"", "optim.m.", "optim.v."}) {
    const std::vector<float>& arena =
        prefix.empty() ? saved.state.parameters : prefix == "optim.m." ? saved.state.adam_m : saved.state.adam_v;
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      const std::string name = prefix + spec.name;
      SCOPED_TRACE(name);
      const nlohmann::json& entry = header.at(name);
      EXPECT_EQ(entry.at("dtype"), "F32");
      EXPECT_EQ(entry.at("shape"), nlohmann::json(std::vector<int64_t>(spec.shape, spec.shape + spec.rank)));
      const uint64_t begin = entry.at("data_offsets")[0];
      const uint64_t end = entry.at("data_offsets")[1];
      EXPECT_EQ(begin, expected_begin);
      EXPECT_EQ(end - begin, spec.count * sizeof(float));
      EXPECT_EQ(std::memcmp(data + begin, arena.data() + spec.offset, spec.count * sizeof(float)), 0);
      expected_begin = end;
    }
  }
  EXPECT_EQ(expected_begin, kTensorBytes);
  // The PyTorch shapes the brief fixes, spelled out once more against model_spec.h.
  EXPECT_EQ(header.at("conv.weight").at("shape"), nlohmann::json({32, 1, 3, 3}));
  EXPECT_EQ(header.at("fc1.weight").at("shape"), nlohmann::json({128, 5408}));
  EXPECT_EQ(header.at("fc2.weight").at("shape"), nlohmann::json({10, 128}));
}

TEST_F(CheckpointFile, TruncationAnywhereIsRefused) {
  const Bytes bytes = t::read_file(file_);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_length_of(bytes));
  const struct {
    std::size_t size;
    const char* reason;
  } cuts[] = {
      {0, "fewer than the 8"},
      {5, "fewer than the 8"},
      {8, "exceeds the 0 bytes after it"},
      {data_start / 2, "exceeds the"},
      {data_start - 1, "exceeds the"},
      {data_start, "reach past the data section's 0 bytes"},
      {data_start + 1000, "reach past the data section"},
      {bytes.size() - 1, "reach past the data section"},
  };
  for (const auto& cut : cuts) {
    SCOPED_TRACE("truncated to " + std::to_string(cut.size) + " bytes");
    t::write_file(file_, Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut.size)));
    const std::string message = load_error();
    t::expect_contains(message, file_.string());
    t::expect_contains(message, cut.reason);
  }
}

TEST_F(CheckpointFile, FlippedDataBitIsAChecksumError) {
  Bytes bytes = t::read_file(file_);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_length_of(bytes));
  for (const std::size_t position : {data_start, data_start + kTensorBytes / 2, bytes.size() - 1}) {
    Bytes damaged = bytes;
    damaged[position] ^= 0x10;
    t::write_file(file_, damaged);
    const std::string message = load_error();
    t::expect_contains(message, file_.string());
    t::expect_contains(message, "checksum mismatch: the tensor data is corrupt (expected crc32 ");
    t::expect_contains(message, ", found ");
  }
}

TEST_F(CheckpointFile, FlippedHeaderByteIsRefused) {
  Bytes bytes = t::read_file(file_);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length_of(bytes)));
  const auto flip = [&](const std::string& needle, std::size_t offset, char replacement, const char* reason) {
    SCOPED_TRACE(needle);
    const std::size_t found = header.find(needle);
    ASSERT_NE(found, std::string::npos);
    Bytes damaged = bytes;
    damaged[8 + found + offset] = static_cast<unsigned char>(replacement);
    t::write_file(file_, damaged);
    const std::string message = load_error();
    t::expect_contains(message, file_.string());
    t::expect_contains(message, reason);
  };
  flip("{", 0, '[', "not valid JSON");                                 // the opening brace
  flip("\"shape\":[32,1,3,3]", 9, '4', "needs 1512");                   // conv.weight 32 -> 42 filters
  flip("\"dtype\":\"F32\"", 10, '1', "unknown dtype 'F12'");
  flip("\"data_offsets\":[0,", 16, '1', "[1, 1152] span 1151 bytes");   // conv.weight now starts at 1
  flip("\"conv.bias\"", 1, 'k', "missing tensor 'conv.bias'");          // renamed to "konv.bias"
}

TEST_F(CheckpointFile, TrailingGarbageIsRefused) {
  Bytes bytes = t::read_file(file_);
  bytes.insert(bytes.end(), {'g', 'a', 'r', 'b', 'a', 'g', 'e'});
  t::write_file(file_, bytes);
  const std::string message = load_error();
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "trailing bytes");
}

TEST_F(CheckpointFile, OtherModelIsRefused) {
  edit_header(file_, [](nlohmann::json& header) { header["__metadata__"]["model"] = "conv(1->64,5x5) > dense(10)"; });
  const std::string message = load_error();
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "checkpoint is for a different model: it holds 'conv(1->64,5x5) > dense(10)'");
}

TEST_F(CheckpointFile, UnknownFormatIsRefused) {
  edit_header(file_, [](nlohmann::json& header) { header["__metadata__"]["format"] = "pt"; });
  t::expect_contains(load_error(), "unknown format 'pt', expected 'train_gpu-checkpoint-v1'");
  edit_header(file_, [](nlohmann::json& header) { header.erase("__metadata__"); });
  t::expect_contains(load_error(), "unknown format '(none)'");
}

TEST_F(CheckpointFile, WrongDtypeOfTheRightSizeIsRefused) {
  // I32 has F32's size, so the file is valid safetensors; only the checkpoint reader objects.
  edit_header(file_, [](nlohmann::json& header) { header["fc2.bias"]["dtype"] = "I32"; });
  t::expect_contains(load_error(), "tensor 'fc2.bias' has dtype I32, expected F32");
}

TEST_F(CheckpointFile, WrongShapeOfTheRightSizeIsRefused) {
  // (128, 5408) stored as (5408, 128): same bytes, transposed meaning.
  edit_header(file_, [](nlohmann::json& header) { header["fc1.weight"]["shape"] = {5408, 128}; });
  t::expect_contains(load_error(), "tensor 'fc1.weight' has shape [5408,128], expected [128,5408]");
}

TEST_F(CheckpointFile, MissingOrExtraTensorsAreRefused) {
  // The last tensor's bytes become "extra" by renaming: still valid safetensors.
  edit_header(file_, [](nlohmann::json& header) {
    header["optim.w.fc2.bias"] = header["optim.v.fc2.bias"];
    header.erase("optim.v.fc2.bias");
  });
  t::expect_contains(load_error(), "missing tensor 'optim.v.fc2.bias'");

  // An extra zero-size tensor alongside all the right ones.
  save_checkpoint(file_, random_checkpoint(7));
  edit_header(file_, [](nlohmann::json& header) {
    header["bn.weight"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {0, 0}}};
  });
  t::expect_contains(load_error(), "unexpected tensor 'bn.weight'");
}

TEST_F(CheckpointFile, BadMetadataValuesAreRefused) {
  const auto with_metadata = [&](const std::string& key, const nlohmann::json& value) {
    save_checkpoint(file_, random_checkpoint(7));
    edit_header(file_, [&](nlohmann::json& header) {
      if (value.is_null()) {
        header["__metadata__"].erase(key);
      } else {
        header["__metadata__"][key] = value;
      }
    });
    return load_error();
  };
  t::expect_contains(with_metadata("step", "12x"), "metadata 'step' is '12x', not an integer");
  t::expect_contains(with_metadata("seed", "-1"), "metadata 'seed' is '-1', not an integer");
  t::expect_contains(with_metadata("epoch", ""), "metadata 'epoch' is '', not an integer");
  t::expect_contains(with_metadata("epoch", "-2"), "must not be negative");
  t::expect_contains(with_metadata("dataset", nullptr), "metadata has no 'dataset'");
  t::expect_contains(with_metadata("data_crc32", nullptr), "metadata has no 'data_crc32'");
  t::expect_contains(with_metadata("data_crc32", "00000000"), "checksum mismatch");
}

TEST(Checkpoint, WrongArenaSizeIsRefusedAndWritesNothing) {
  t::TempDir scratch;
  Checkpoint checkpoint = random_checkpoint(1);
  checkpoint.state.adam_m.pop_back();
  const fs::path file = scratch.path() / "model.safetensors";
  t::expect_contains(t::error_of([&] { save_checkpoint(file, checkpoint); }),
                     "adam_m has 693961 values, expected 693962");
  EXPECT_FALSE(fs::exists(file));
}

TEST(Checkpoint, MissingFileNamesIt) {
  const std::string message = t::error_of([] { load_checkpoint("/nonexistent/run/model.safetensors"); });
  t::expect_contains(message, "/nonexistent/run/model.safetensors");
  t::expect_contains(message, "No such file or directory");
}

// ---- Foreign weights: a PyTorch state_dict of the model (load_model_weights) -------------------

class StateDictFile : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = scratch_.path() / "net.safetensors";
    parameters_ = random_checkpoint(11).state.parameters;
    t::write_state_dict(file_, parameters_);
  }
  std::string weights_error() const {
    return t::error_of([&] { load_model_weights(file_); });
  }

  t::TempDir scratch_;
  fs::path file_;
  std::vector<float> parameters_;
};

TEST_F(StateDictFile, LoadsAsForeignWeightsWithZeroMomentsAndNoMetadata) {
  EXPECT_TRUE(header_of(t::read_file(file_)).count("__metadata__") == 0) << "the fixture must look like save_file's";
  const ModelWeights weights = load_model_weights(file_);
  EXPECT_TRUE(weights.foreign);
  expect_bitwise_equal(weights.checkpoint.state.parameters, parameters_, "parameters");
  expect_bitwise_equal(weights.checkpoint.state.adam_m, std::vector<float>(model::kParameterCount, 0.0f), "adam_m");
  expect_bitwise_equal(weights.checkpoint.state.adam_v, std::vector<float>(model::kParameterCount, 0.0f), "adam_v");
  EXPECT_EQ(weights.checkpoint.state.step, 0);
  EXPECT_EQ(weights.checkpoint.metadata.epoch, 0);
  EXPECT_EQ(weights.checkpoint.metadata.dataset, "");
}

TEST_F(StateDictFile, OtherMetadataIsIgnored) {
  // transformers' save_pretrained writes {"format": "pt"}.
  t::write_state_dict(file_, parameters_, {{"format", "pt"}});
  const ModelWeights weights = load_model_weights(file_);
  EXPECT_TRUE(weights.foreign);
  expect_bitwise_equal(weights.checkpoint.state.parameters, parameters_, "parameters");
}

TEST_F(StateDictFile, OurCheckpointLoadsAsItself) {
  const Checkpoint original = random_checkpoint(7);
  save_checkpoint(file_, original);
  const ModelWeights weights = load_model_weights(file_);
  EXPECT_FALSE(weights.foreign);
  expect_bitwise_equal(weights.checkpoint.state.parameters, original.state.parameters, "parameters");
  expect_bitwise_equal(weights.checkpoint.state.adam_v, original.state.adam_v, "adam_v");
  EXPECT_EQ(weights.checkpoint.state.step, original.state.step);
  EXPECT_EQ(weights.checkpoint.metadata.dataset, "fashion-mnist");
  // Ours is still verified: a damaged checkpoint does not pass as a foreign file.
  edit_header(file_, [](nlohmann::json& header) { header["__metadata__"]["data_crc32"] = "00000000"; });
  t::expect_contains(weights_error(), "checksum mismatch");
}

TEST_F(StateDictFile, NamesShapesAndDtypesAreCheckedAsForACheckpoint) {
  edit_header(file_, [](nlohmann::json& header) { header["fc1.weight"]["shape"] = {5408, 128}; });
  std::string message = weights_error();
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "no train_gpu metadata, read as a PyTorch state_dict");
  t::expect_contains(message, "tensor 'fc1.weight' has shape [5408,128], expected [128,5408]");

  t::write_state_dict(file_, parameters_);
  edit_header(file_, [](nlohmann::json& header) { header["conv.bias"]["dtype"] = "I32"; });
  t::expect_contains(weights_error(), "tensor 'conv.bias' has dtype I32, expected F32");

  // A state_dict of another model: renamed layers.
  t::write_state_dict(file_, parameters_);
  edit_header(file_, [](nlohmann::json& header) {
    header["conv1.weight"] = header["conv.weight"];
    header.erase("conv.weight");
  });
  t::expect_contains(weights_error(), "missing tensor 'conv.weight'");

  // A checkpoint of an incompatible train_gpu version is named as such, not read as weights.
  t::write_state_dict(file_, parameters_, {{"format", "train_gpu-checkpoint-v2"}});
  t::expect_contains(weights_error(), "format 'train_gpu-checkpoint-v2', expected 'train_gpu-checkpoint-v1'");
}

TEST_F(StateDictFile, ResumingFromItIsRefusedWithTheReason) {
  const std::string message = t::error_of([&] { load_checkpoint(file_); });
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "without train_gpu metadata (a PyTorch state_dict?)");
  t::expect_contains(message, "evaluate, features, export and predict accept this file");
}

}  // namespace
}  // namespace train_gpu
