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
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "host/model/model_spec.h"
#include "host/train/safetensors.h"
#include "support/checkpoint_header.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)
using t::Bytes;

constexpr std::size_t kTensorBytes = 3 * model::kParameterCount * sizeof(float);

using t::edit_header;
using t::edit_header_unsigned;
using t::header_length_of;
using t::header_of;
using t::recipe_checksum;

// Random values of both signs and magnitudes like trained weights and Adam moments, plus values
// whose bits a lossy path (text, a flush of denormals) would change.
Checkpoint random_checkpoint(uint64_t seed) {
  Rng rng(seed);
  Checkpoint checkpoint;
  for (std::vector<float>* arena : {&checkpoint.state.parameters, &checkpoint.state.adam_m, &checkpoint.state.adam_v}) {
    arena->resize(model::kParameterCount);
    for (float& value : *arena) value = (rng.uniform01() - 0.5f) * std::ldexp(1.0f, int(rng.below(40)) - 30);
  }
  checkpoint.state.parameters[0] = -0.0f;
  checkpoint.state.parameters[1] = std::numeric_limits<float>::denorm_min();
  checkpoint.state.adam_v.back() = std::numeric_limits<float>::max();
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

// A checkpoint as the trainer writes one 17 batches into epoch 4 of a 60000-image run in batches of
// 32 (1875 batches an epoch), with the running totals of those 17 batches: 544 samples, 500
// correct... in the confusion counts: 50 on each of the 10 diagonal cells and 44 off it.
Checkpoint mid_epoch_checkpoint() {
  Checkpoint checkpoint = random_checkpoint(7);
  checkpoint.state.step = 3 * 1875 + 17;
  std::string confusion;
  for (int cell = 0; cell < 100; ++cell) confusion += (cell ? " " : "") + std::to_string(cell % 11 == 0 ? 50 : cell == 1 ? 44 : 0);
  checkpoint.metadata.extra = {{"batch_size", "32"},
                               {"train_count", "60000"},
                               {"partial.batch_loss_sum", "5.0999999999999996"},
                               {"partial.sample_loss_sum", "163.19999999999999"},
                               {"partial.batches", "17"},
                               {"partial.samples", "544"},
                               {"partial.correct", "500"},
                               {"partial.confusion", confusion}};
  return checkpoint;
}

TEST_F(CheckpointFile, EveryMetadataFieldIsRangeChecked) {
  const Checkpoint valid = mid_epoch_checkpoint();
  save_checkpoint(file_, valid);
  EXPECT_EQ(load_checkpoint(file_).metadata.extra, valid.metadata.extra);
  const std::string& confusion = valid.metadata.extra.at("partial.confusion");
  // Sets `key` to `value` (null: removes it), signs the metadata again, and expects the load to
  // name the field, what it holds and `expected`.
  const auto refused = [&](const std::string& key, const nlohmann::json& value, const std::string& expected) {
    SCOPED_TRACE(key + " = " + value.dump());
    save_checkpoint(file_, valid);
    edit_header(file_, [&](nlohmann::json& header) {
      if (value.is_null()) {
        header["__metadata__"].erase(key);
      } else {
        header["__metadata__"][key] = value;
      }
    });
    const std::string message = load_error();
    t::expect_contains(message, "checkpoint " + file_.string() + ": metadata field '" + key + "' is ");
    t::expect_contains(message, expected);
  };
  // The cases: what std::stoll and std::stod threw on, and a position no run reaches.
  refused("x.batch_size", "abc", "is 'abc', expected an integer from 1 to 65536");
  refused("x.partial.batch_loss_sum", "abc", "is 'abc', expected a finite number");
  refused("batches_into_epoch", "9223372036854775807",
          "expected an integer from 0 to 1874 (60000 training images in batches of 32 make 1875 batches an epoch)");
  // Every other field.
  refused("step", "12x", "is '12x', expected an integer from 0 to ");
  refused("step", "-1", "expected an integer from 0 to 5642 (the batches taken in 3 epoch(s) and 17 batch(es) at 1875");
  refused("step", "5643", "expected an integer from 0 to 5642");
  refused("epoch", "", "is '', expected an integer from 0 to ");
  refused("epoch", "-2", "is '-2', expected an integer from 0 to ");
  refused("batches_into_epoch", nullptr, "is missing, expected an integer from 0 to 1874");
  refused("seed", "-1", "is '-1', expected an integer from 0 to 18446744073709551615");
  refused("seed", "18446744073709551616", "expected an integer from 0 to 18446744073709551615");
  refused("dataset", nullptr, "is missing, expected mnist, fashion-mnist, idx, cifar10 or folder");
  refused("dataset", "cifar100", "is 'cifar100', expected mnist, fashion-mnist, idx, cifar10 or folder");
  refused("model", nullptr, "is missing, expected the model description");
  refused("data_crc32", nullptr, "is missing, expected 8 hexadecimal digits");
  refused("data_crc32", "0x12345", "is '0x12345', expected 8 hexadecimal digits");
  refused("x.batch_size", "0", "expected an integer from 1 to 65536");
  refused("x.batch_size", "65537", "expected an integer from 1 to 65536");
  refused("x.train_count", "1e5", "is '1e5', expected an integer from 1 to 2147483647");
  refused("x.partial.sample_loss_sum", "nan", "is 'nan', expected a finite number");
  refused("x.partial.sample_loss_sum", "inf", "is 'inf', expected a finite number");
  refused("x.partial.batches", "16", "is '16', expected 17 (the batches_into_epoch)");
  refused("x.partial.samples", "545", "expected an integer from 0 to 544");
  refused("x.partial.correct", "545", "expected an integer from 0 to 544 (at most x.partial.samples)");
  const std::string confusion_expected =
      "expected a square number (classes x classes, 4 to 65536) of counts separated by spaces, adding up to "
      "x.partial.samples (544)";
  refused("x.partial.confusion", confusion + " 0", confusion_expected);        // 101 counts
  refused("x.partial.confusion", confusion.substr(3), confusion_expected);     // 99 counts
  refused("x.partial.confusion", "4" + confusion, confusion_expected);         // 450 first: 944 in all
  refused("x.partial.confusion", confusion + " ", confusion_expected);         // a trailing space
  refused("x.partial.confusion", "-" + confusion, confusion_expected);
  std::string not_square = "446";  // 99 counts adding up to 544: the total is right, the count is no square
  for (int cell = 1; cell < 99; ++cell) not_square += cell == 11 ? " 98" : " 0";
  refused("x.partial.confusion", not_square, confusion_expected);
  refused("x.partial.confusion", "544", confusion_expected);  // 1 class: no classification
  // Any other square is another class count's matrix: 144 counts for a 12-class set.
  std::string twelve_classes = "500 44";
  for (int cell = 2; cell < 144; ++cell) twelve_classes += " 0";
  Checkpoint twelve = valid;
  twelve.metadata.extra["partial.confusion"] = twelve_classes;
  save_checkpoint(file_, twelve);
  EXPECT_EQ(load_checkpoint(file_).metadata.extra.at("partial.confusion"), twelve_classes);
  refused("x.partial.confusion", std::string(300, '7'), "is '" + std::string(40, '7') + "... (300 characters)', expected");
  // Mid-epoch, the running totals are needed: without them a resume would count only the
  // batches after it in the epoch's metrics.
  refused("x.partial.correct", nullptr, "is missing, expected an integer from 0 to 544");
}

// Where tensor `name`'s values start in an arena.
std::size_t offset_of(const std::string& name) {
  for (const model::TensorSpec& spec : model::kParameterTensors) {
    if (name == spec.name) return spec.offset;
  }
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

TEST_F(CheckpointFile, NonFiniteValuesAreRefusedNamingTheTensorAndTheIndex) {
  const struct {
    const char* arena;
    const char* tensor;
    std::size_t index;  // flat, within the tensor
    float value;
    const char* expected;
  } cases[] = {
      {"parameters", "fc1.weight", 3 * 5408 + 7, std::numeric_limits<float>::quiet_NaN(), "tensor 'fc1.weight' holds NaN at index [3, 7]"},
      {"parameters", "conv.weight", 32 * 9 - 1, -std::numeric_limits<float>::infinity(), "tensor 'conv.weight' holds infinity at index [31, 0, 2, 2]"},
      {"adam_m", "fc2.bias", 9, std::numeric_limits<float>::infinity(), "tensor 'optim.m.fc2.bias' holds infinity at index [9]"},
      {"adam_v", "conv.bias", 0, std::numeric_limits<float>::quiet_NaN(), "tensor 'optim.v.conv.bias' holds NaN at index [0]"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.expected);
    Checkpoint checkpoint = random_checkpoint(7);
    std::vector<float>& arena = std::string(bad.arena) == "parameters" ? checkpoint.state.parameters
                                : std::string(bad.arena) == "adam_m"   ? checkpoint.state.adam_m
                                                                       : checkpoint.state.adam_v;
    arena[offset_of(bad.tensor) + bad.index] = bad.value;
    save_checkpoint(file_, checkpoint);  // saving is not refused: a diverged run's last state stays inspectable
    const std::string message = load_error();
    t::expect_contains(message, "checkpoint " + file_.string() + ": " + bad.expected);
    t::expect_contains(message, "use an earlier checkpoint");
    t::expect_contains(t::error_of([&] { load_model_weights(file_); }), bad.expected);
  }
}

TEST_F(CheckpointFile, ACheckpointWithoutTheMetadataChecksumStillLoadsWithItsFieldsChecked) {
  // What fe955a7 wrote: no metadata_crc32.
  edit_header_unsigned(file_, [](nlohmann::json& header) { header["__metadata__"].erase("metadata_crc32"); });
  const Checkpoint loaded = load_checkpoint(file_);
  EXPECT_EQ(loaded.state.step, random_checkpoint(7).state.step);
  edit_header_unsigned(file_, [](nlohmann::json& header) { header["__metadata__"]["x.batch_size"] = "abc"; });
  t::expect_contains(load_error(), "metadata field 'x.batch_size' is 'abc', expected an integer from 1 to 65536");
}

TEST_F(CheckpointFile, TheMetadataChecksumCoversEveryField) {
  const nlohmann::json metadata = header_of(t::read_file(file_)).at("__metadata__");
  EXPECT_EQ(metadata.at("metadata_crc32"), recipe_checksum(metadata));
  for (const auto& item : metadata.items()) {
    // The format says whose file it is, before any checksum of ours applies.
    if (item.key() == "metadata_crc32" || item.key() == "format") continue;
    SCOPED_TRACE(item.key());
    save_checkpoint(file_, random_checkpoint(7));
    // One character changed, as a flipped bit in the header would, into a value still valid.
    edit_header_unsigned(file_, [&](nlohmann::json& header) {
      std::string value = item.value();
      value.back() = value.back() == '1' ? '2' : '1';
      header["__metadata__"][item.key()] = value;
    });
    const std::string message = load_error();
    t::expect_contains(message, "checkpoint " + file_.string() + ": metadata checksum mismatch: the metadata is corrupt or was edited");
  }
  // Its own value, too.
  save_checkpoint(file_, random_checkpoint(7));
  edit_header_unsigned(file_, [](nlohmann::json& header) { header["__metadata__"]["metadata_crc32"] = "00000000"; });
  t::expect_contains(load_error(), "metadata checksum mismatch");
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

TEST_F(StateDictFile, NonFiniteWeightsAreRefusedNamingTheTensor) {
  parameters_[model::kFc2BiasOffset + 9] = std::numeric_limits<float>::quiet_NaN();
  t::write_state_dict(file_, parameters_);
  const std::string message = weights_error();
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "tensor 'fc2.bias' holds NaN at index [9]");
}

TEST_F(StateDictFile, ResumingFromItIsRefusedWithTheReason) {
  const std::string message = t::error_of([&] { load_checkpoint(file_); });
  t::expect_contains(message, file_.string());
  t::expect_contains(message, "without train_gpu metadata (a PyTorch state_dict?)");
  t::expect_contains(message, "evaluate, features, export and predict accept this file");
}

}  // namespace
}  // namespace train_gpu
