// The names of optimizers, their state slots and the learning-rate schedules, as flags,
// config.json, checkpoints and messages spell them. One place, so a checkpoint written under one
// name reads back under the same.
#pragma once

#include <string>
#include <vector>

#include "host/model/backend.h"

namespace train_gpu {

// "adam" | "adamw" | "sgd" | "rmsprop".
std::string optimizer_name(OptimizerKind kind);
// The inverse; an Error naming the accepted names otherwise.
OptimizerKind parse_optimizer(const std::string& name);

// The checkpoint names of the optimizer's state slots, slot 0 first (cuda/math/optimizer_math.h):
// a slot's tensors are optim.<slot>.<tensor>. Adam's {"m", "v"} are what every checkpoint before
// other optimizers existed holds.
std::vector<std::string> optimizer_slot_names(OptimizerKind kind);

// "constant" | "step" | "exponential" | "cosine" | "plateau".
std::string lr_schedule_name(LrScheduleKind kind);
LrScheduleKind parse_lr_schedule(const std::string& name);

}  // namespace train_gpu
