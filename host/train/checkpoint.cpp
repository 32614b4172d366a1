#include "host/train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>
#include <vector>

#include "host/common/error.h"
#include "host/model/keras_json.h"
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

enum class Arena { kParameters, kAdamM, kAdamV, kBuffers };

// One tensor of a checkpoint file and where it lives in ModelState.
struct FileTensor {
  std::string name;
  std::vector<int64_t> shape;
  Arena arena;
  std::size_t offset = 0;
  std::size_t count = 0;
};

// The tensors of a checkpoint of `spec`, in file order: the parameters, then the optimizer's
// state of each, one slot after the other (`slots`: "optim.m.", "optim.v." for Adam, from
// slot_prefixes), then the buffers. For the tutorial under Adam (no buffers) this is exactly the
// list of the checkpoints written before models were data. No slots: a state_dict's tensors. The
// one place that says which tensors a checkpoint holds.
std::vector<FileTensor> checkpoint_tensors(const model::NetworkSpec& spec, const std::vector<std::string>& slots) {
  std::vector<FileTensor> tensors;
  std::vector<std::pair<std::string, Arena>> sections = {{"", Arena::kParameters}};
  const Arena slot_arenas[2] = {Arena::kAdamM, Arena::kAdamV};  // ModelState's two slots
  for (std::size_t slot = 0; slot < slots.size() && slot < 2; ++slot) sections.emplace_back(slots[slot], slot_arenas[slot]);
  for (const auto& [prefix, arena] : sections) {
    for (const model::ArenaTensor& tensor : spec.parameters) {
      tensors.push_back({prefix + tensor.name, tensor.shape, arena, tensor.offset, tensor.count});
    }
  }
  for (const model::ArenaTensor& tensor : spec.buffers) {
    tensors.push_back({tensor.name, tensor.shape, Arena::kBuffers, tensor.offset, tensor.count});
  }
  return tensors;
}

std::vector<float>& arena_of(ModelState& state, Arena arena) {
  switch (arena) {
    case Arena::kParameters: return state.parameters;
    case Arena::kAdamM: return state.adam_m;
    case Arena::kAdamV: return state.adam_v;
    case Arena::kBuffers: return state.buffers;
  }
  return state.parameters;
}
const std::vector<float>& arena_of(const ModelState& state, Arena arena) { return arena_of(const_cast<ModelState&>(state), arena); }

void check_arena_sizes(const ModelState& state, const model::NetworkSpec& spec, const std::filesystem::path& file) {
  const std::pair<const char*, const std::vector<float>*> arenas[4] = {
      {"parameters", &state.parameters}, {"adam_m", &state.adam_m}, {"adam_v", &state.adam_v}, {"buffers", &state.buffers}};
  for (const auto& [what, arena] : arenas) {
    const std::size_t expected = arena == &state.buffers ? spec.buffer_count : spec.parameter_count;
    if (arena->size() != expected) {
      throw Error("cannot save checkpoint " + file.string() + ": " + what + " has " + std::to_string(arena->size()) +
                  " values, expected " + std::to_string(expected));
    }
  }
}

// The first non-finite value of each tensor, named by tensor and index: a checkpoint of a diverged
// model passes every checksum (it was written that way), yet evaluates to one class, exports an
// ONNX model that outputs NaN and resumes into NaN at once.
void check_finite(const ModelState& state, const std::vector<FileTensor>& tensors, const std::string& where) {
  for (const FileTensor& tensor : tensors) {
    const float* const first = arena_of(state, tensor.arena).data() + tensor.offset;
    const float* const bad = std::find_if(first, first + tensor.count, [](float value) { return !std::isfinite(value); });
    if (bad == first + tensor.count) continue;
    // The index within the tensor, in its PyTorch shape, as numpy would print it.
    std::size_t flat = static_cast<std::size_t>(bad - first);
    std::string index;
    for (std::size_t dim = tensor.shape.size(); dim-- > 0;) {
      const auto extent = static_cast<std::size_t>(tensor.shape[dim]);
      index = std::to_string(flat % extent) + (index.empty() ? "" : ", ") + index;
      flat /= extent;
    }
    throw Error(where + "tensor '" + tensor.name + "' holds " + (std::isnan(*bad) ? "NaN" : "infinity") + " at index [" +
                index + "]: a model with non-finite values is unusable (did its training diverge?); use an earlier checkpoint");
  }
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint) {
  const ModelState& state = checkpoint.state;
  check_arena_sizes(state, checkpoint.spec, file);

  std::vector<safetensors::F32TensorView> tensors;
  uint32_t crc = crc32_update(0, nullptr, 0);
  for (const FileTensor& tensor :
       checkpoint_tensors(checkpoint.spec, slot_prefixes(checkpoint_optimizer(checkpoint.metadata)))) {
    const float* data = arena_of(state, tensor.arena).data() + tensor.offset;
    tensors.push_back({tensor.name, tensor.shape, data});
    // encode() lays the tensors out back to back in this order, so this is the crc of the data
    // section as written.
    crc = crc32_update(crc, data, tensor.count * sizeof(float));
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

// A PyTorch BatchNorm2d's step counter, which a state_dict of the spec's nn.Sequential holds and
// which nothing here uses: "<module>.num_batches_tracked" of a BatchNormalization layer.
bool batchnorm_counter(const std::string& name, const model::NetworkSpec& spec) {
  for (const model::LayerSpec& layer : spec.layers) {
    if (layer.kind == model::LayerKind::kBatchNorm && name == layer.module + ".num_batches_tracked") return true;
  }
  return false;
}

// The tensors must be exactly `expected`, F32, in their PyTorch shapes (a state_dict may add
// BatchNorm counters: `foreign`). `where` starts every message.
void check_tensor_set(const safetensors::File& contents, const std::vector<FileTensor>& expected,
                      const model::NetworkSpec& spec, bool foreign, const std::string& where) {
  std::set<std::string> names;
  for (const FileTensor& tensor : expected) names.insert(tensor.name);
  for (const FileTensor& tensor : expected) {
    if (contents.tensors().count(tensor.name) == 0) throw Error(where + "missing tensor '" + tensor.name + "'");
  }
  for (const auto& [name, info] : contents.tensors()) {
    if (names.count(name) == 0 && !(foreign && batchnorm_counter(name, spec))) {
      throw Error(where + "unexpected tensor '" + name + "'");
    }
  }
  for (const FileTensor& tensor : expected) {
    const safetensors::TensorInfo& info = contents.tensors().at(tensor.name);
    if (info.dtype != "F32") throw Error(where + "tensor '" + tensor.name + "' has dtype " + info.dtype + ", expected F32");
    if (info.shape != tensor.shape) {
      throw Error(where + "tensor '" + tensor.name + "' has shape " + shape_text(info.shape) + ", expected " +
                  shape_text(tensor.shape));
    }
  }
}

// Sizes the state's arenas for `spec` and copies the listed tensors in (zeros where none is listed).
void read_tensors(const safetensors::File& contents, const std::vector<FileTensor>& tensors, const model::NetworkSpec& spec,
                  ModelState& state) {
  state.parameters.assign(spec.parameter_count, 0.0f);
  state.adam_m.assign(spec.parameter_count, 0.0f);
  state.adam_v.assign(spec.parameter_count, 0.0f);
  state.buffers.assign(spec.buffer_count, 0.0f);
  for (const FileTensor& tensor : tensors) {
    contents.copy_f32(tensor.name, arena_of(state, tensor.arena).data() + tensor.offset, tensor.count);
  }
}

// True when the file holds the tutorial's six parameter tensors and nothing else, whatever their
// dtypes and shapes: what a PyTorch state_dict of the README's Net looks like.
bool holds_parameter_names_only(const safetensors::File& contents) {
  const std::vector<FileTensor> tensors = checkpoint_tensors(model::tutorial_network(), {});
  if (contents.tensors().size() != tensors.size()) return false;
  for (const FileTensor& tensor : tensors) {
    if (contents.tensors().count(tensor.name) == 0) return false;
  }
  return true;
}

bool is_ours(const safetensors::Metadata& metadata) {
  const auto format = metadata.find("format");
  return format != metadata.end() && format->second == kCheckpointFormat;
}

// The model a checkpoint holds: its "keras_model", or the tutorial's where it has none (a
// checkpoint written before models were data). Its description must be the "model" field's.
model::NetworkSpec spec_of(const safetensors::Metadata& metadata, const std::string& recorded_model, const std::string& where) {
  const auto keras_model = metadata.find(kKerasModelKey);
  if (keras_model == metadata.end()) {
    if (recorded_model != model::kModelDescription) {
      throw Error(where + "checkpoint is for a different model: it holds '" + recorded_model +
                  "' without the model itself (no metadata field '" + kKerasModelKey + "'); only the tutorial's '" +
                  model::kModelDescription + "' is known without it");
    }
    return model::tutorial_network();
  }
  model::NetworkSpec spec =
      model::network_from_keras_json(keras_model->second, where + "metadata field '" + kKerasModelKey + "'", nullptr);
  if (spec.description() != recorded_model) {
    throw Error(where + "checkpoint is for a different model: it holds '" + recorded_model + "', but its " + kKerasModelKey +
                " describes '" + spec.description() + "' (edited or damaged metadata)");
  }
  return spec;
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
  checkpoint.spec = spec_of(metadata, checkpoint.metadata.model, where);
  const std::vector<FileTensor> tensors =
      checkpoint_tensors(checkpoint.spec, slot_prefixes(checkpoint_optimizer(checkpoint.metadata)));
  check_tensor_set(contents, tensors, checkpoint.spec, false, where);

  const std::string& stored_crc = metadata.at("data_crc32");  // present: read_checkpoint_metadata checked it
  const std::string actual_crc =
      hex32(crc32_update(crc32_update(0, nullptr, 0), contents.data_section(), contents.data_section_size()));
  if (stored_crc != actual_crc) {
    throw Error(where + "checksum mismatch: the tensor data is corrupt (expected crc32 " + stored_crc + ", found " +
                actual_crc + ")");
  }

  read_tensors(contents, tensors, checkpoint.spec, checkpoint.state);
  check_finite(checkpoint.state, tensors, where);
  return checkpoint;
}

// A state_dict: the parameters (and buffers) alone; moments zero, step 0, no dataset.
Checkpoint checkpoint_from_state_dict(const safetensors::File& contents, const std::filesystem::path& file,
                                      const model::NetworkSpec& spec) {
  const std::string where = "weights " + file.string() + " (no train_gpu metadata, read as a PyTorch state_dict): ";
  const auto format = contents.metadata().find("format");
  if (format != contents.metadata().end() && format->second.compare(0, 9, "train_gpu") == 0) {
    throw Error("checkpoint " + file.string() + ": format '" + format->second + "', expected '" + kCheckpointFormat +
                "' (a checkpoint of an incompatible train_gpu version)");
  }
  const std::vector<FileTensor> tensors = checkpoint_tensors(spec, {});
  check_tensor_set(contents, tensors, spec, true, where);
  Checkpoint checkpoint;
  checkpoint.spec = spec;
  checkpoint.metadata.model = spec.description();
  read_tensors(contents, tensors, spec, checkpoint.state);
  check_finite(checkpoint.state, tensors, where);
  return checkpoint;
}

}  // namespace

Checkpoint load_checkpoint(const std::filesystem::path& file) {
  return checkpoint_from(safetensors::File::read(file), file);
}

ModelWeights load_model_weights(const std::filesystem::path& file, const model::NetworkSpec* foreign_spec) {
  const safetensors::File contents = safetensors::File::read(file);
  ModelWeights weights;
  weights.foreign = !is_ours(contents.metadata());
  weights.checkpoint = weights.foreign
                           ? checkpoint_from_state_dict(contents, file, foreign_spec != nullptr ? *foreign_spec : model::tutorial_network())
                           : checkpoint_from(contents, file);
  return weights;
}

void check_resume_model(const Checkpoint& checkpoint, const model::NetworkSpec& requested, const std::filesystem::path& file) {
  if (checkpoint.spec.description() == requested.description()) return;
  throw Error("--resume " + file.string() + ": the checkpoint holds the model '" + checkpoint.spec.description() +
              "' but --model gives '" + requested.description() +
              "'; a resumed run continues the checkpoint's model: leave --model out or give the same model");
}

}  // namespace train_gpu
