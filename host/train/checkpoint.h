// Checkpoints: safetensors files (loadable by PyTorch's safetensors and by numpy) holding the
// model in PyTorch names and layouts (the spec's: model::NetworkSpec::parameters, then its
// buffers), the optimizer's state as optim.<slot>.<name> (Adam's m and v: optim.m.<name> /
// optim.v.<name>; cuda/math/optimizer_math.h names the others), and in __metadata__ everything
// needed to continue exactly (step, epoch, position, seed, dataset, model description, the model
// itself as Keras's JSON in "keras_model", a checksum of the tensor bytes). A checkpoint without
// "keras_model" (written before models were data) is the tutorial's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "host/model/backend.h"
#include "host/model/network_spec.h"

namespace train_gpu {

struct CheckpointMetadata {
  int64_t epoch = 0;             // epochs completed (1-based count); mid-epoch: the epoch in progress - 1
  int64_t batches_into_epoch = 0;  // 0 at an epoch boundary; else the batches of epoch+1 already taken
  uint64_t seed = 0;
  std::string dataset;           // "mnist" | "fashion-mnist"
  std::string model = model::kModelDescription;  // as read; save writes Checkpoint::spec's description
  std::map<std::string, std::string> extra;  // orchestrator's own keys (config, partial totals)
};

struct Checkpoint {
  ModelState state;              // state.step is Adam's t; arenas in spec's layout
  CheckpointMetadata metadata;
  model::NetworkSpec spec = model::tutorial_network();
};

// Writes atomically: a temporary file in the same directory, fsync, rename over `file`, fsync of
// the directory. A crash at any moment leaves either the old file or the new one, never a mix.
void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint);

// Reads and validates (header, shapes, dtypes, sizes, checksum, model description). Any problem
// is an Error naming the file and what is wrong. Only train_gpu checkpoints: resuming needs the
// moments and the step.
Checkpoint load_checkpoint(const std::filesystem::path& file);

// For the commands that only run the model (evaluate, features, export, predict): a train_gpu
// checkpoint as load_checkpoint reads it, or else a "foreign" safetensors file that holds the
// model's parameter tensors (and buffers) and nothing else, in the PyTorch names, shapes and
// dtype F32 of `foreign_spec` (the tutorial's, model_spec.h, where null) -- what safetensors'
// save_file(net.state_dict()) writes for the README's Net or the spec's nn.Sequential (whose
// BatchNorm2d num_batches_tracked counters are ignored). Its metadata, if any, is ignored (it has
// no checksum to verify); the Checkpoint gets zero Adam moments, step 0, epoch 0 and an empty
// dataset. Names and shapes are checked as for a checkpoint: any difference is an Error naming
// the tensor. A train_gpu checkpoint carries its own spec; `foreign_spec` plays no part there.
struct ModelWeights {
  Checkpoint checkpoint;
  bool foreign = false;  // no train_gpu metadata: step, epoch, seed and dataset are unknown
};
ModelWeights load_model_weights(const std::filesystem::path& file, const model::NetworkSpec* foreign_spec = nullptr);

// --resume continues the checkpoint's model: a different `requested` one (--model) is an Error
// naming both descriptions.
void check_resume_model(const Checkpoint& checkpoint, const model::NetworkSpec& requested, const std::filesystem::path& file);

}  // namespace train_gpu
