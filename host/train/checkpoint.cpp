#include "host/train/checkpoint.h"

#include <zlib.h>

#include <charconv>
#include <cstdio>
#include <limits>
#include <set>
#include <vector>

#include "host/common/error.h"
#include "host/train/atomic_file.h"
#include "host/train/safetensors.h"

namespace train_gpu {
namespace {

constexpr const char* kFormat = "train_gpu-checkpoint-v1";
constexpr const char* kExtraPrefix = "x.";  // keeps the orchestrator's keys apart from ours
constexpr const char* kMomentPrefixes[2] = {"optim.m.", "optim.v."};

// zlib's crc32 (the one Python's zlib.crc32 and `gzip` use), in pieces so the writer can
// checksum the tensors before they are laid out.
uint32_t crc32_update(uint32_t crc, const void* data, std::size_t size) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

std::string hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(value));
  return text;
}

std::vector<int64_t> spec_shape(const model::TensorSpec& spec) {
  return std::vector<int64_t>(spec.shape, spec.shape + spec.rank);
}

// The three arenas in file order: the parameters, then m, then v, each in kParameterTensors order.
struct ArenaSection {
  std::string prefix;
  const std::vector<float>* arena;
};

void check_arena_size(const std::vector<float>& arena, const char* what, const std::filesystem::path& file) {
  if (arena.size() != model::kParameterCount) {
    throw Error("cannot save checkpoint " + file.string() + ": " + what + " has " + std::to_string(arena.size()) +
                " values, expected " + std::to_string(model::kParameterCount));
  }
}

template <typename Integer>
Integer parse_integer(const safetensors::Metadata& metadata, const std::string& key, const std::string& where) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw Error(where + "metadata has no '" + key + "'");
  const std::string& text = found->second;
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw Error(where + "metadata '" + key + "' is '" + text + "', not an integer");
  }
  return value;
}

const std::string& required_string(const safetensors::Metadata& metadata, const std::string& key, const std::string& where) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw Error(where + "metadata has no '" + key + "'");
  return found->second;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint) {
  const ModelState& state = checkpoint.state;
  check_arena_size(state.parameters, "parameters", file);
  check_arena_size(state.adam_m, "adam_m", file);
  check_arena_size(state.adam_v, "adam_v", file);

  const ArenaSection sections[3] = {{"", &state.parameters}, {kMomentPrefixes[0], &state.adam_m}, {kMomentPrefixes[1], &state.adam_v}};
  std::vector<safetensors::F32TensorView> tensors;
  uint32_t crc = crc32_update(0, nullptr, 0);
  for (const ArenaSection& section : sections) {
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      const float* data = section.arena->data() + spec.offset;
      tensors.push_back({section.prefix + spec.name, spec_shape(spec), data});
      // encode() lays the tensors out back to back in this order, so this is the crc of the
      // data section as written.
      crc = crc32_update(crc, data, spec.count * sizeof(float));
    }
  }

  const CheckpointMetadata& meta = checkpoint.metadata;
  safetensors::Metadata metadata = {
      {"format", kFormat},
      {"step", std::to_string(state.step)},
      {"epoch", std::to_string(meta.epoch)},
      {"batches_into_epoch", std::to_string(meta.batches_into_epoch)},
      {"seed", std::to_string(meta.seed)},
      {"dataset", meta.dataset},
      {"model", meta.model},
      {"data_crc32", hex32(crc)},
  };
  for (const auto& [key, value] : meta.extra) metadata[kExtraPrefix + key] = value;

  const std::vector<unsigned char> bytes = safetensors::encode(tensors, metadata);
  write_file_atomically(file, bytes.data(), bytes.size());
}

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text;
  for (const int64_t dim : shape) text += (text.empty() ? "" : ",") + std::to_string(dim);
  return "[" + text + "]";
}

// The tensors must be exactly the model's parameters under each of `prefixes`, F32, in their
// PyTorch shapes. `where` starts every message.
void check_tensor_set(const safetensors::File& contents, const std::vector<std::string>& prefixes, const std::string& where) {
  std::set<std::string> expected;
  for (const std::string& prefix : prefixes) {
    for (const model::TensorSpec& spec : model::kParameterTensors) expected.insert(prefix + spec.name);
  }
  for (const std::string& name : expected) {
    if (contents.tensors().count(name) == 0) throw Error(where + "missing tensor '" + name + "'");
  }
  for (const auto& [name, info] : contents.tensors()) {
    if (expected.count(name) == 0) throw Error(where + "unexpected tensor '" + name + "'");
  }
  for (const std::string& prefix : prefixes) {
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      const std::string name = prefix + spec.name;
      const safetensors::TensorInfo& info = contents.tensors().at(name);
      if (info.dtype != "F32") throw Error(where + "tensor '" + name + "' has dtype " + info.dtype + ", expected F32");
      if (info.shape != spec_shape(spec)) {
        throw Error(where + "tensor '" + name + "' has shape " + shape_text(info.shape) + ", expected " +
                    shape_text(spec_shape(spec)));
      }
    }
  }
}

// True when the file holds the model's six parameter tensors and nothing else, whatever their
// dtypes and shapes: what a PyTorch state_dict of the README's Net looks like.
bool holds_parameter_names_only(const safetensors::File& contents) {
  if (contents.tensors().size() != model::kTensorCount) return false;
  for (const model::TensorSpec& spec : model::kParameterTensors) {
    if (contents.tensors().count(spec.name) == 0) return false;
  }
  return true;
}

bool is_ours(const safetensors::Metadata& metadata) {
  const auto format = metadata.find("format");
  return format != metadata.end() && format->second == kFormat;
}

Checkpoint checkpoint_from(const safetensors::File& contents, const std::filesystem::path& file) {
  const std::string where = "checkpoint " + file.string() + ": ";
  const safetensors::Metadata& metadata = contents.metadata();

  // What the file is, before how it is laid out: a foreign file or another model's checkpoint
  // deserves that message rather than a list of unexpected tensors.
  if (!is_ours(metadata)) {
    const auto format = metadata.find("format");
    std::string message = where + "unknown format '" + (format == metadata.end() ? std::string("(none)") : format->second) +
                          "', expected '" + kFormat + "' (not a train_gpu checkpoint, or from an incompatible version)";
    if (holds_parameter_names_only(contents)) {
      message = where + "it holds the model's weights without train_gpu metadata (a PyTorch state_dict?): continuing "
                "training needs a train_gpu checkpoint, which also holds Adam's moments and the step; evaluate, "
                "features, export and predict accept this file";
    }
    throw Error(message);
  }
  const std::string& model_description = required_string(metadata, "model", where);
  if (model_description != model::kModelDescription) {
    throw Error(where + "checkpoint is for a different model: it holds '" + model_description + "', this build trains '" +
                model::kModelDescription + "'");
  }
  check_tensor_set(contents, {"", kMomentPrefixes[0], kMomentPrefixes[1]}, where);

  const std::string& stored_crc = required_string(metadata, "data_crc32", where);
  const std::string actual_crc =
      hex32(crc32_update(crc32_update(0, nullptr, 0), contents.data_section(), contents.data_section_size()));
  if (stored_crc != actual_crc) {
    throw Error(where + "checksum mismatch: the tensor data is corrupt (expected crc32 " + stored_crc + ", found " +
                actual_crc + ")");
  }

  Checkpoint checkpoint;
  ModelState& state = checkpoint.state;
  std::vector<float>* arenas[3] = {&state.parameters, &state.adam_m, &state.adam_v};
  const char* prefixes[3] = {"", kMomentPrefixes[0], kMomentPrefixes[1]};
  for (int section = 0; section < 3; ++section) {
    arenas[section]->assign(model::kParameterCount, 0.0f);
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      contents.copy_f32(prefixes[section] + std::string(spec.name), arenas[section]->data() + spec.offset, spec.count);
    }
  }

  state.step = parse_integer<int64_t>(metadata, "step", where);
  CheckpointMetadata& meta = checkpoint.metadata;
  meta.epoch = parse_integer<int64_t>(metadata, "epoch", where);
  meta.batches_into_epoch = parse_integer<int64_t>(metadata, "batches_into_epoch", where);
  meta.seed = parse_integer<uint64_t>(metadata, "seed", where);
  if (state.step < 0 || meta.epoch < 0 || meta.batches_into_epoch < 0) {
    throw Error(where + "metadata step, epoch and batches_into_epoch must not be negative");
  }
  meta.dataset = required_string(metadata, "dataset", where);
  meta.model = model_description;
  const std::string extra_prefix = kExtraPrefix;
  for (const auto& [key, value] : metadata) {
    if (key.compare(0, extra_prefix.size(), extra_prefix) == 0) meta.extra[key.substr(extra_prefix.size())] = value;
  }
  return checkpoint;
}

// A state_dict: the parameters alone; moments zero, step 0, no dataset.
Checkpoint checkpoint_from_state_dict(const safetensors::File& contents, const std::filesystem::path& file) {
  const std::string where = "weights " + file.string() + " (no train_gpu metadata, read as a PyTorch state_dict): ";
  const auto format = contents.metadata().find("format");
  if (format != contents.metadata().end() && format->second.compare(0, 9, "train_gpu") == 0) {
    throw Error("checkpoint " + file.string() + ": format '" + format->second + "', expected '" + kFormat +
                "' (a checkpoint of an incompatible train_gpu version)");
  }
  check_tensor_set(contents, {""}, where);
  Checkpoint checkpoint;
  ModelState& state = checkpoint.state;
  state.parameters.assign(model::kParameterCount, 0.0f);
  state.adam_m.assign(model::kParameterCount, 0.0f);
  state.adam_v.assign(model::kParameterCount, 0.0f);
  for (const model::TensorSpec& spec : model::kParameterTensors) {
    contents.copy_f32(spec.name, state.parameters.data() + spec.offset, spec.count);
  }
  return checkpoint;
}

}  // namespace

Checkpoint load_checkpoint(const std::filesystem::path& file) {
  return checkpoint_from(safetensors::File::read(file), file);
}

ModelWeights load_model_weights(const std::filesystem::path& file) {
  const safetensors::File contents = safetensors::File::read(file);
  ModelWeights weights;
  weights.foreign = !is_ours(contents.metadata());
  weights.checkpoint = weights.foreign ? checkpoint_from_state_dict(contents, file) : checkpoint_from(contents, file);
  return weights;
}

}  // namespace train_gpu
