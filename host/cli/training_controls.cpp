#include "host/cli/training_controls.h"

#include <string>

#include "host/cli/validators.h"
#include "host/common/error.h"
#include "host/model/optimizer_names.h"
#include "host/train/run_config.h"

namespace train_gpu::cli {

void add_training_control_options(CLI::App& command, TrainOptions& options) {
  OptimizerConfig& optimizer = options.config.optimizer;
  optimizer.learning_rate = 0;  // until resolved: the chosen optimizer's Keras default
  options.config.schedule.decay_epochs = 0;  // until resolved: --epochs
  command.add_option("--optimizer", options.optimizer, "adam, adamw (decoupled weight decay), sgd or rmsprop, with Keras's defaults")
      ->check(CLI::IsMember({"adam", "adamw", "sgd", "rmsprop"}))
      ->capture_default_str();
  command.add_option("--lr", optimizer.learning_rate, "Learning rate [default: 0.001; sgd: 0.01, as Keras]")->check(positive_finite());
  command.add_option("--beta1", optimizer.beta1, "adam, adamw: beta1")->check(fraction_below_one())->capture_default_str();
  command.add_option("--beta2", optimizer.beta2, "adam, adamw: beta2")->check(fraction_below_one())->capture_default_str();
  command.add_option("--epsilon", optimizer.epsilon, "adam, adamw, rmsprop: epsilon")->check(positive_finite())->capture_default_str();
  command.add_option("--weight-decay", optimizer.weight_decay, "adamw: decoupled weight decay, w -= lr * weight_decay * w each step")
      ->check(non_negative_finite())
      ->capture_default_str();
  command.add_option("--momentum", optimizer.momentum, "sgd, rmsprop: momentum")->check(fraction_below_one())->capture_default_str();
  command.add_flag("--nesterov", optimizer.nesterov, "sgd: Nesterov momentum");
  command.add_option("--rho", optimizer.rho, "rmsprop: discounting factor of the squared gradients' average")
      ->check(fraction_below_one())
      ->capture_default_str();

  LrSchedule& schedule = options.config.schedule;
  command.add_option("--lr-schedule", options.lr_schedule,
                     "constant, step (x --lr-gamma every --lr-step-epochs), exponential (x --lr-gamma per epoch), cosine "
                     "(per step down to --lr-min by --lr-decay-epochs, after --warmup-epochs), or plateau (x --lr-gamma "
                     "when val_loss stalls for --lr-patience epochs; needs --validation-split)")
      ->check(CLI::IsMember({"constant", "step", "exponential", "cosine", "plateau"}))
      ->capture_default_str();
  command.add_option("--lr-step-epochs", schedule.step_epochs, "step: epochs between decays")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  command.add_option("--lr-gamma", schedule.gamma, "step, exponential, plateau: the factor of each decay")
      ->check(positive_finite())
      ->capture_default_str();
  command.add_option("--lr-min", schedule.min_lr, "cosine: the final rate; plateau: the lowest rate")
      ->check(non_negative_finite())
      ->capture_default_str();
  command.add_option("--warmup-epochs", schedule.warmup_epochs, "cosine: epochs of linear warm-up from 0 to --lr")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command.add_option("--lr-decay-epochs", schedule.decay_epochs,
                     "cosine: the epoch the rate reaches --lr-min [default: --epochs of the run's start; a resume with "
                     "more --epochs keeps the run's, so the rate stays at --lr-min; give this to stretch the cosine]")
      ->check(whole_number_at_least(1));
  command.add_option("--lr-patience", options.config.plateau_patience, "plateau: epochs without val_loss improvement before a cut")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  command.add_option("--lr-plateau-cooldown", options.config.plateau_cooldown,
                     "plateau: epochs after a cut that neither count towards --lr-patience nor cut (Keras's cooldown)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command.add_option("--lr-plateau-min-delta", options.config.plateau_min_delta,
                     "plateau: val_loss improves when it falls below the best by more than this (Keras's min_delta)")
      ->check(non_negative_finite())
      ->capture_default_str();

  command.add_option("--validation-split", options.config.validation_split,
                     "Hold out this fraction of the training set (chosen by --seed, fixed for the run) and report val_loss "
                     "and val_accuracy each epoch (0: none)")
      ->check(fraction_below_one())
      ->capture_default_str();
  command.add_option("--early-stopping", options.config.early_stopping,
                     "Stop when val_loss has not improved for this many epochs (0: off; needs --validation-split)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command.add_option("--early-stopping-min-delta", options.config.early_stopping_min_delta,
                     "--early-stopping: val_loss improves when it falls below the best by more than this (Keras's "
                     "min_delta)")
      ->check(non_negative_finite())
      ->capture_default_str();
  add_switch(command, "--restore-best", "--no-restore-best", options.config.restore_best,
             "With --early-stopping, end with the best epoch's weights, checkpoints/best.safetensors (on by default)");
  command.add_option("--clip-norm", options.clip_norm, "Scale the gradients to this global norm when above it (0: off)")
      ->check(non_negative_finite())
      ->capture_default_str();
  command.add_option("--label-smoothing", options.label_smoothing,
                     "Train against (1 - e) * one_hot + e / 10 (the training loss is then the smoothed one; val and test "
                     "losses stay plain cross-entropy)")
      ->check(fraction_below_one())
      ->capture_default_str();
}

namespace {

// An Error when `flag` was given but `applies` is false.
void refuse_unless(const CLI::App& command, const char* flag, bool applies, const std::string& who) {
  if (command.count(flag) > 0 && !applies) throw Error(std::string(flag) + " is read only by " + who + "; drop it or choose that");
}

}  // namespace

void resolve_training_controls(const CLI::App& command, TrainOptions& options) {
  OptimizerConfig& optimizer = options.config.optimizer;
  optimizer.kind = parse_optimizer(options.optimizer);
  if (optimizer.learning_rate == 0) optimizer.learning_rate = math::default_learning_rate(optimizer.kind);
  const bool adam = optimizer.kind == OptimizerKind::kAdam || optimizer.kind == OptimizerKind::kAdamW;
  refuse_unless(command, "--beta1", adam, "--optimizer adam and adamw");
  refuse_unless(command, "--beta2", adam, "--optimizer adam and adamw");
  refuse_unless(command, "--epsilon", optimizer.kind != OptimizerKind::kSgd, "--optimizer adam, adamw and rmsprop");
  refuse_unless(command, "--weight-decay", optimizer.kind == OptimizerKind::kAdamW, "--optimizer adamw");
  refuse_unless(command, "--momentum", optimizer.kind == OptimizerKind::kSgd || optimizer.kind == OptimizerKind::kRmsprop,
                "--optimizer sgd and rmsprop");
  refuse_unless(command, "--nesterov", optimizer.kind == OptimizerKind::kSgd, "--optimizer sgd");
  refuse_unless(command, "--rho", optimizer.kind == OptimizerKind::kRmsprop, "--optimizer rmsprop");

  LrSchedule& schedule = options.config.schedule;
  schedule.kind = parse_lr_schedule(options.lr_schedule);
  const LrScheduleKind kind = schedule.kind;
  refuse_unless(command, "--lr-step-epochs", kind == LrScheduleKind::kStep, "--lr-schedule step");
  refuse_unless(command, "--lr-gamma", kind == LrScheduleKind::kStep || kind == LrScheduleKind::kExponential || kind == LrScheduleKind::kPlateau,
                "--lr-schedule step, exponential and plateau");
  refuse_unless(command, "--lr-min", kind == LrScheduleKind::kCosine || kind == LrScheduleKind::kPlateau,
                "--lr-schedule cosine and plateau");
  refuse_unless(command, "--warmup-epochs", kind == LrScheduleKind::kCosine, "--lr-schedule cosine");
  refuse_unless(command, "--lr-decay-epochs", kind == LrScheduleKind::kCosine, "--lr-schedule cosine");
  refuse_unless(command, "--lr-patience", kind == LrScheduleKind::kPlateau, "--lr-schedule plateau");
  refuse_unless(command, "--lr-plateau-cooldown", kind == LrScheduleKind::kPlateau, "--lr-schedule plateau");
  refuse_unless(command, "--lr-plateau-min-delta", kind == LrScheduleKind::kPlateau, "--lr-schedule plateau");
  refuse_unless(command, "--early-stopping-min-delta", options.config.early_stopping > 0, "--early-stopping");
  refuse_unless(command, "--no-restore-best", options.config.early_stopping > 0, "--early-stopping");
  if (schedule.decay_epochs == 0) schedule.decay_epochs = options.config.epochs;  // not given, not recorded
  if (kind == LrScheduleKind::kCosine) {
    if (schedule.decay_epochs <= schedule.warmup_epochs) {
      throw Error("--lr-decay-epochs " + std::to_string(schedule.decay_epochs) + " must be above --warmup-epochs " +
                  std::to_string(schedule.warmup_epochs) + ": the cosine needs at least one epoch after the warm-up");
    }
  }
  if ((kind == LrScheduleKind::kCosine || kind == LrScheduleKind::kPlateau) && !(schedule.min_lr < optimizer.learning_rate)) {
    throw Error("--lr-min " + std::to_string(schedule.min_lr) + " must be below the learning rate " +
                std::to_string(optimizer.learning_rate) + " (--lr)");
  }
  if (kind == LrScheduleKind::kPlateau && !(schedule.gamma < 1.0f)) {
    throw Error("--lr-gamma " + std::to_string(schedule.gamma) + " must be below 1 for --lr-schedule plateau: it cuts the rate");
  }
}

void add_training_controls_json(const TrainOptions& options, nlohmann::json& training) {
  const OptimizerConfig& optimizer = options.config.optimizer;
  training["optimizer"] = {{"name", optimizer_name(optimizer.kind)},
                           {"learning_rate", float_as_typed(optimizer.learning_rate)},
                           {"beta1", float_as_typed(optimizer.beta1)},
                           {"beta2", float_as_typed(optimizer.beta2)},
                           {"epsilon", float_as_typed(optimizer.epsilon)},
                           {"weight_decay", float_as_typed(optimizer.weight_decay)},
                           {"momentum", float_as_typed(optimizer.momentum)},
                           {"nesterov", optimizer.nesterov},
                           {"rho", float_as_typed(optimizer.rho)}};
  const LrSchedule& schedule = options.config.schedule;
  training["lr_schedule"] = {{"name", lr_schedule_name(schedule.kind)},
                             {"step_epochs", schedule.step_epochs},
                             {"gamma", float_as_typed(schedule.gamma)},
                             {"min_lr", float_as_typed(schedule.min_lr)},
                             {"warmup_epochs", schedule.warmup_epochs},
                             {"decay_epochs", schedule.decay_epochs},
                             {"plateau_patience", options.config.plateau_patience},
                             {"plateau_cooldown", options.config.plateau_cooldown},
                             {"plateau_min_delta", options.config.plateau_min_delta}};
  training["validation_split"] = options.config.validation_split;
  training["early_stopping"] = options.config.early_stopping;
  training["early_stopping_min_delta"] = options.config.early_stopping_min_delta;
  training["restore_best"] = options.config.restore_best;
  training["clip_norm"] = float_as_typed(options.clip_norm);
  training["label_smoothing"] = float_as_typed(options.label_smoothing);
}

}  // namespace train_gpu::cli
