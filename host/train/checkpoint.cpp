#include "host/train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "host/common/error.h"
#include "host/model/optimizer_names.h"
#include "host/train/atomic_file.h"
#include "host/train/checkpoint_metadata.h"
#include "host/train/safetensors.h"

namespace train_gpu {
namespace {

// The optimizer a checkpoint's state belongs to: the trainer records it in the metadata; a
// checkpoint without the key is from before other optimizers existed, so Adam's.
OptimizerKind checkpoint_optimizer(const CheckpointMetadata& metadata) {
  const auto found = metadata.extra.find("optimizer");
  return found == metadata.extra.end() ? OptimizerKind::kAdam : parse_optimizer(found->second);
}

// "optim.<slot>." for each of the optimizer's state slots, slot 0 first.
std::vector<std::string> slot_prefixes(OptimizerKind kind) {
  std::vector<std::string> prefixes;
  for (const std::string& slot : optimizer_slot_names(kind)) prefixes.push_back("optim." + slot + ".");
  return prefixes;
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

// The first non-finite value of each arena, named by tensor and index: a checkpoint of a diverged
// model passes every checksum (it was written that way), yet evaluates to one class, exports an
// ONNX model that outputs NaN and resumes into NaN at once.
void check_finite(const std::vector<const std::vector<float>*>& arenas, const std::vector<std::string>& prefixes,
                  const std::string& where) {
  for (std::size_t section = 0; section < arenas.size(); ++section) {
    const std::vector<float>& arena = *arenas[section];
    const auto bad = std::find_if(arena.begin(), arena.end(), [](float value) { return !std::isfinite(value); });
    if (bad == arena.end()) continue;
    const std::size_t at = static_cast<std::size_t>(bad - arena.begin());
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      if (at < spec.offset || at >= spec.offset + spec.count) continue;
      // The index within the tensor, in its PyTorch shape, as numpy would print it.
      std::size_t flat = at - spec.offset;
      std::string index;
      for (int dim = spec.rank - 1; dim >= 0; --dim) {
        const auto extent = static_cast<std::size_t>(spec.shape[dim]);
        index = std::to_string(flat % extent) + (index.empty() ? "" : ", ") + index;
        flat /= extent;
      }
      throw Error(where + "tensor '" + prefixes[section] + spec.name + "' holds " + (std::isnan(*bad) ? "NaN" : "infinity") +
                  " at index [" + index + "]: a model with non-finite values is unusable (did its training "
                  "diverge?); use an earlier checkpoint");
    }
  }
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint) {
  const ModelState& state = checkpoint.state;
  check_arena_size(state.parameters, "parameters", file);
  check_arena_size(state.adam_m, "adam_m", file);
  check_arena_size(state.adam_v, "adam_v", file);

  const std::vector<std::string> slots = slot_prefixes(checkpoint_optimizer(checkpoint.metadata));
  std::vector<ArenaSection> sections = {{"", &state.parameters}};
  for (std::size_t slot = 0; slot < slots.size(); ++slot) sections.push_back({slots[slot], slot == 0 ? &state.adam_m : &state.adam_v});
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

  const safetensors::Metadata metadata = checkpoint_metadata_to_write(checkpoint, hex32(crc));
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
  return format != metadata.end() && format->second == kCheckpointFormat;
}

Checkpoint checkpoint_from(const safetensors::File& contents, const std::filesystem::path& file) {
  const std::string where = "checkpoint " + file.string() + ": ";
  const safetensors::Metadata& metadata = contents.metadata();

  // What the file is, before how it is laid out: a foreign file or another model's checkpoint
  // deserves that message rather than a list of unexpected tensors.
  if (!is_ours(metadata)) {
    const auto format = metadata.find("format");
    std::string message = where + "unknown format '" + (format == metadata.end() ? std::string("(none)") : format->second) +
                          "', expected '" + kCheckpointFormat + "' (not a train_gpu checkpoint, or from an incompatible version)";
    if (holds_parameter_names_only(contents)) {
      message = where + "it holds the model's weights without train_gpu metadata (a PyTorch state_dict?): continuing "
                "training needs a train_gpu checkpoint, which also holds Adam's moments and the step; evaluate, "
                "features, export and predict accept this file";
    }
    throw Error(message);
  }
  verify_metadata_checksum(metadata, where);
  Checkpoint checkpoint;
  read_checkpoint_metadata(metadata, where, checkpoint);
  if (checkpoint.metadata.model != model::kModelDescription) {
    throw Error(where + "checkpoint is for a different model: it holds '" + checkpoint.metadata.model +
                "', this build trains '" + model::kModelDescription + "'");
  }
  const OptimizerKind optimizer = checkpoint_optimizer(checkpoint.metadata);
  std::vector<std::string> prefixes = {""};
  for (const std::string& slot : slot_prefixes(optimizer)) prefixes.push_back(slot);
  check_tensor_set(contents, prefixes, where);

  const std::string& stored_crc = metadata.at("data_crc32");  // present: read_checkpoint_metadata checked it
  const std::string actual_crc =
      hex32(crc32_update(crc32_update(0, nullptr, 0), contents.data_section(), contents.data_section_size()));
  if (stored_crc != actual_crc) {
    throw Error(where + "checksum mismatch: the tensor data is corrupt (expected crc32 " + stored_crc + ", found " +
                actual_crc + ")");
  }

  ModelState& state = checkpoint.state;
  // A slot the optimizer does not have (SGD's second) stays zero.
  std::vector<float>* const all_arenas[3] = {&state.parameters, &state.adam_m, &state.adam_v};
  std::vector<const std::vector<float>*> arenas;
  for (std::size_t section = 0; section < 3; ++section) {
    all_arenas[section]->assign(model::kParameterCount, 0.0f);
    if (section >= prefixes.size()) continue;
    arenas.push_back(all_arenas[section]);
    for (const model::TensorSpec& spec : model::kParameterTensors) {
      contents.copy_f32(prefixes[section] + std::string(spec.name), all_arenas[section]->data() + spec.offset, spec.count);
    }
  }

  check_finite(arenas, prefixes, where);
  return checkpoint;
}

// A state_dict: the parameters alone; moments zero, step 0, no dataset.
Checkpoint checkpoint_from_state_dict(const safetensors::File& contents, const std::filesystem::path& file) {
  const std::string where = "weights " + file.string() + " (no train_gpu metadata, read as a PyTorch state_dict): ";
  const auto format = contents.metadata().find("format");
  if (format != contents.metadata().end() && format->second.compare(0, 9, "train_gpu") == 0) {
    throw Error("checkpoint " + file.string() + ": format '" + format->second + "', expected '" + kCheckpointFormat +
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
  check_finite({&state.parameters}, {""}, where);
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
