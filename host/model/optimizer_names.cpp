#include "host/model/optimizer_names.h"

#include <utility>

#include "host/common/error.h"

namespace train_gpu {

namespace {

const std::pair<OptimizerKind, const char*> kOptimizers[] = {
    {OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}, {OptimizerKind::kSgd, "sgd"}, {OptimizerKind::kRmsprop, "rmsprop"}};

const std::pair<LrScheduleKind, const char*> kSchedules[] = {{LrScheduleKind::kConstant, "constant"},
                                                             {LrScheduleKind::kStep, "step"},
                                                             {LrScheduleKind::kExponential, "exponential"},
                                                             {LrScheduleKind::kCosine, "cosine"},
                                                             {LrScheduleKind::kPlateau, "plateau"}};

template <typename Kind, std::size_t N>
std::string name_of(const std::pair<Kind, const char*> (&table)[N], Kind kind) {
  for (const auto& [known, name] : table) {
    if (known == kind) return name;
  }
  return "unknown (" + std::to_string(static_cast<int>(kind)) + ")";
}

template <typename Kind, std::size_t N>
Kind parse(const std::pair<Kind, const char*> (&table)[N], const std::string& name, const std::string& what) {
  std::string accepted;
  for (const auto& [kind, known] : table) {
    if (name == known) return kind;
    accepted += (accepted.empty() ? "" : ", ") + std::string(known);
  }
  throw Error(what + " '" + name + "' is not one of " + accepted);
}

}  // namespace

std::string optimizer_name(OptimizerKind kind) { return name_of(kOptimizers, kind); }
OptimizerKind parse_optimizer(const std::string& name) { return parse(kOptimizers, name, "optimizer"); }

std::vector<std::string> optimizer_slot_names(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW:
      return {"m", "v"};
    case OptimizerKind::kSgd:
      return {"momentum"};
    case OptimizerKind::kRmsprop:
      return {"momentum", "velocity"};
  }
  return {};
}

std::string lr_schedule_name(LrScheduleKind kind) { return name_of(kSchedules, kind); }
LrScheduleKind parse_lr_schedule(const std::string& name) { return parse(kSchedules, name, "learning-rate schedule"); }

}  // namespace train_gpu
