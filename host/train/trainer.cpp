#include "host/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <cstdio>
#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/common/error.h"
#include "host/common/format.h"
#include "host/common/trace_range.h"
#include "host/data/permutation.h"
#include "host/distributed/totals_reduction.h"
#include "host/model/initializer.h"
#include "host/model/optimizer_names.h"
#include "host/train/algorithm_record.h"
#include "host/train/atomic_file.h"
#include "host/train/checkpoint.h"
#include "host/train/progress_bar.h"
#include "host/train/run_directory.h"
#include "host/train/stop_signal.h"

namespace train_gpu {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int64_t batch_count(int64_t count, int batch) { return batch > 0 ? (count + batch - 1) / batch : 0; }

void split_for_validation(uint64_t seed, int32_t count, double fraction, std::vector<int32_t>& train,
                          std::vector<int32_t>& validation) {
  const auto held_out = static_cast<int64_t>(std::llround(fraction * double(count)));
  if (!(fraction > 0.0 && fraction < 1.0) || held_out < 1 || held_out >= count) {
    throw Error("--validation-split " + std::to_string(fraction) + " of " + std::to_string(count) +
                " training images leaves " + std::to_string(held_out) + " for validation and " +
                std::to_string(int64_t(count) - held_out) + " for training; both need at least one (choose a fraction in (0, 1))");
  }
  // Epoch -1: a permutation no epoch's shuffle uses, so the split is not the first epoch's order.
  const std::vector<int32_t> permutation = epoch_permutation(seed, -1, count);
  validation.assign(permutation.begin(), permutation.begin() + held_out);
  train.assign(permutation.begin() + held_out, permutation.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
}

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Doubles round-trip exactly through "%.17g", so resumed metrics match uninterrupted ones.
std::string exact(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

void totals_to_extra(const PassTotals& totals, std::map<std::string, std::string>& extra) {
  extra["partial.batch_loss_sum"] = exact(totals.batch_loss_sum);
  extra["partial.sample_loss_sum"] = exact(totals.sample_loss_sum);
  extra["partial.batches"] = std::to_string(totals.batches);
  extra["partial.samples"] = std::to_string(totals.samples);
  extra["partial.correct"] = std::to_string(totals.correct);
  std::string confusion;
  for (size_t i = 0; i < totals.confusion.size(); ++i) confusion += (i ? " " : "") + std::to_string(totals.confusion[i]);
  extra["partial.confusion"] = confusion;
}

const std::string& required(const std::map<std::string, std::string>& extra, const std::string& key) {
  const auto found = extra.find(key);
  if (found == extra.end()) throw Error("checkpoint lacks '" + key + "': it was not written by train_gpu's trainer");
  return found->second;
}

PassTotals totals_from_extra(const std::map<std::string, std::string>& extra) {
  PassTotals totals;
  if (extra.find("partial.batches") == extra.end()) return totals;
  totals.batch_loss_sum = std::stod(required(extra, "partial.batch_loss_sum"));
  totals.sample_loss_sum = std::stod(required(extra, "partial.sample_loss_sum"));
  totals.batches = std::stoll(required(extra, "partial.batches"));
  totals.samples = std::stoll(required(extra, "partial.samples"));
  totals.correct = std::stoll(required(extra, "partial.correct"));
  // Any square count (checkpoint_metadata.cpp checked the text): the caller checks the class count.
  const std::string& confusion = required(extra, "partial.confusion");
  for (size_t position = 0; position < confusion.size();) {
    size_t used = 0;
    totals.confusion.push_back(std::stoll(confusion.substr(position), &used));
    position += used;
  }
  return totals;
}

void tracker_to_extra(const ImprovementTracker& tracker, const std::string& prefix, std::map<std::string, std::string>& extra) {
  extra[prefix + ".best"] = exact(tracker.best);
  extra[prefix + ".best_epoch"] = std::to_string(tracker.best_epoch);
  extra[prefix + ".wait"] = std::to_string(tracker.wait);
}

// A checkpoint without the keys (none had them before validation splits) starts a fresh tracker.
ImprovementTracker tracker_from_extra(const std::map<std::string, std::string>& extra, const std::string& prefix) {
  ImprovementTracker tracker;
  if (extra.find(prefix + ".best") == extra.end()) return tracker;
  tracker.best = std::stod(required(extra, prefix + ".best"));
  tracker.best_epoch = std::stoll(required(extra, prefix + ".best_epoch"));
  tracker.wait = std::stoll(required(extra, prefix + ".wait"));
  return tracker;
}

void add_into(PassTotals& sum, const PassTotals& more) {
  sum.batch_loss_sum += more.batch_loss_sum;
  sum.sample_loss_sum += more.sample_loss_sum;
  sum.batches += more.batches;
  sum.samples += more.samples;
  sum.correct += more.correct;
  if (sum.first_nonfinite_batch < 0) sum.first_nonfinite_batch = more.first_nonfinite_batch;
  if (sum.confusion.empty()) sum.confusion.assign(more.confusion.size(), 0);  // nothing before a fresh start
  if (sum.confusion.size() != more.confusion.size()) {
    throw Error("internal: adding confusion counts of " + std::to_string(more.confusion.size()) + " cells to " +
                std::to_string(sum.confusion.size()));
  }
  for (size_t i = 0; i < sum.confusion.size(); ++i) sum.confusion[i] += more.confusion[i];
}

}  // namespace

Trainer::Trainer(Backend& backend, const Dataset& dataset, TrainConfig config, std::ostream& out,
                 TrainingObserver* observer, distributed::Collectives* collectives)
    : backend_(backend),
      dataset_(dataset),
      config_(std::move(config)),
      out_(out),
      observer_(observer),
      collectives_(collectives),
      writes_files_(collectives == nullptr || collectives->rank() == 0),
      train_count_(dataset.train.count),
      test_count_(dataset.test.count),
      batches_per_epoch_(batch_count(dataset.train.count, config_.batch_size)),
      kernels_(backend.kernels()) {
  if (config_.validation_split > 0) {
    split_for_validation(config_.seed, static_cast<int32_t>(train_count_), config_.validation_split, train_indices_,
                         validation_indices_);
    train_count_ = static_cast<int64_t>(train_indices_.size());
    batches_per_epoch_ = batch_count(train_count_, config_.batch_size);
  }
  if ((config_.early_stopping > 0 || config_.schedule.kind == LrScheduleKind::kPlateau) && validation_indices_.empty()) {
    throw Error(std::string(config_.early_stopping > 0 ? "--early-stopping" : "--lr-schedule plateau") +
                " watches the validation loss: give --validation-split too (e.g. --validation-split 0.1)");
  }
  if (config_.batch_size <= 0 || config_.test_batch_size <= 0) throw Error("--batch-size and --test-batch-size must be positive");
  if (config_.epochs <= 0) throw Error("--epochs must be at least 1");
  if (train_count_ <= 0 || test_count_ <= 0) throw Error("the dataset has no training or no test images");
  if (config_.dry_run) {
    config_.epochs = 1;
    batches_per_epoch_ = 1;
    if (!validation_indices_.empty()) validation_indices_.resize(std::min<std::size_t>(validation_indices_.size(), std::size_t(config_.test_batch_size)));
    test_count_ = std::min<int64_t>(test_count_, config_.test_batch_size);
  }
}

Trainer::Position Trainer::start_position(ModelState& state) {
  Position position;
  if (config_.resume_from.empty()) {
    state = initial_model_state(backend_.network(), config_.seed);
    backend_.set_state(state);
    return position;
  }
  Checkpoint checkpoint = load_checkpoint(config_.resume_from);
  check_resume_model(checkpoint, backend_.network(), config_.resume_from);
  const CheckpointMetadata& meta = checkpoint.metadata;
  const std::string dataset_name = dataset_kind_name(dataset_.kind);
  const std::string what = "cannot resume from " + config_.resume_from.string() + ": ";
  if (meta.dataset != dataset_name) throw Error(what + "it was trained on " + meta.dataset + ", not " + dataset_name);
  if (std::stoll(required(meta.extra, "batch_size")) != config_.batch_size) {
    throw Error(what + "it used --batch-size " + required(meta.extra, "batch_size") + "; resume with the same");
  }
  if (std::stoll(required(meta.extra, "train_count")) != train_count_) {
    throw Error(what + "it trained on " + required(meta.extra, "train_count") + " images, this run has " +
                std::to_string(train_count_) + " (check --limit-train)");
  }
  const std::string trained_with = meta.extra.count("optimizer") ? meta.extra.at("optimizer") : "adam";
  if (trained_with != optimizer_name(config_.optimizer.kind)) {
    throw Error(what + "it was trained with --optimizer " + trained_with + ", this run asks for --optimizer " +
                optimizer_name(config_.optimizer.kind) + " (the optimizer's state cannot carry over); resume with "
                "--optimizer " + trained_with + ", or start a new run with --run-dir");
  }
  if (!validation_indices_.empty() && meta.seed != config_.seed) {
    throw Error(what + "its run used --seed " + std::to_string(meta.seed) + ", which also chose the validation "
                "split; resume with --seed " + std::to_string(meta.seed));
  }
  config_.seed = meta.seed;  // the run's permutations come from the checkpoint's seed
  early_stopping_ = tracker_from_extra(meta.extra, "early_stopping");
  plateau_.tracker = tracker_from_extra(meta.extra, "plateau");
  plateau_.cooldown_counter = meta.extra.count("plateau.cooldown") ? std::stoll(meta.extra.at("plateau.cooldown")) : 0;
  if (meta.extra.count("lr_scale")) lr_scale_ = std::stof(meta.extra.at("lr_scale"));
  position.epoch = meta.epoch;
  position.batches_into_epoch = meta.batches_into_epoch;
  position.partial = totals_from_extra(meta.extra);
  const size_t classes = static_cast<size_t>(dataset_.train.classes);
  if (!position.partial.confusion.empty() && position.partial.confusion.size() != classes * classes) {
    throw Error(what + "its partial epoch counts " + std::to_string(position.partial.confusion.size()) +
                " confusion cells, but this data has " + std::to_string(classes) + " classes (" +
                std::to_string(classes * classes) + " cells)");
  }
  backend_.set_state(checkpoint.state);
  state = std::move(checkpoint.state);
  out_ << "resumed from " << config_.resume_from.string() << " (epoch " << meta.epoch
       << (meta.batches_into_epoch ? ", batch " + std::to_string(meta.batches_into_epoch) + " of the next" : "")
       << ", step " << state.step << ")\n";
  return position;
}

PassTotals Trainer::train_epoch(int64_t epoch, const Position& from, Position& stop_at) {
  TraceRange range("train_epoch");
  std::vector<int32_t> order = epoch_permutation(config_.seed, epoch, static_cast<int32_t>(train_count_));
  if (!train_indices_.empty()) {
    for (int32_t& position : order) position = train_indices_[std::size_t(position)];
  }
  backend_.set_order(Split::kTrain, order);
  ProgressBar bar(out_, config_.progress, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config_.epochs),
                  batches_per_epoch_);
  int64_t running_every = observer_ ? observer_->running_totals_every() : 0;
  // Rank 0's observer decides; every rank takes part in the reduction of the running totals.
  if (collectives_ != nullptr) collectives_->broadcast(&running_every, sizeof running_every, "the running totals' period");
  const Clock::time_point start = Clock::now();
  for (int64_t batch = from.batches_into_epoch; batch < batches_per_epoch_; ++batch) {
    const int64_t first = batch * config_.batch_size;
    const int count = static_cast<int>(std::min<int64_t>(config_.batch_size, train_count_ - first));
    backend_.train_step(first, count);
    // Before the stop check, so a run stopped at such a step has reported it before resuming after it.
    const int64_t step = epoch * batches_per_epoch_ + batch + 1;
    const bool report = running_every > 0 && step % running_every == 0;
    const bool draw = bar.due();
    if (report || draw) {
      PassTotals so_far = backend_.peek_totals(PassKind::kTraining);
      // Only at report steps, which every rank reaches (a bar draws on rank 0 alone, by the clock).
      if (collectives_ != nullptr && report) distributed::reduce_totals(*collectives_, so_far);
      PassTotals epoch_so_far = from.partial;
      add_into(epoch_so_far, so_far);
      if (draw) bar.draw(batch + 1, epoch_so_far.mean_batch_loss(), epoch_so_far.accuracy(), double(so_far.samples) / seconds_since(start));
      if (report && observer_ != nullptr) observer_->on_running_totals(epoch + 1, step, epoch_so_far);
    }
    if (agreed_stop_signal() != 0 && batch + 1 < batches_per_epoch_) {
      stop_at.batches_into_epoch = batch + 1;
      break;
    }
  }
  bar.clear();
  return take_training_totals();
}

PassTotals Trainer::take_training_totals() {
  PassTotals totals = backend_.take_totals(PassKind::kTraining);
  if (collectives_ != nullptr) distributed::reduce_totals(*collectives_, totals);
  return totals;
}

int Trainer::agreed_stop_signal() {
  const int received = StopSignal::received();
  if (collectives_ == nullptr) return received;
  // The largest signal number any rank received (SIGTERM over SIGINT), as a minimum of negations.
  int64_t negated = -int64_t(received);
  collectives_->min(&negated, 1, "agreeing on a stop");
  return static_cast<int>(-negated);
}

PassTotals Trainer::test_pass() {
  TraceRange range("test_pass");
  // Per pass, not once per run: the test order is backend state that the evaluator also sets.
  backend_.set_order(Split::kTest, identity_order(static_cast<int32_t>(dataset_.test.count)));
  for (int64_t first = 0; first < test_count_; first += config_.test_batch_size) {
    backend_.evaluate_batch(Split::kTest, first, static_cast<int>(std::min<int64_t>(config_.test_batch_size, test_count_ - first)));
  }
  return backend_.take_totals(PassKind::kEvaluation);
}

// The held-out part of the training split, in its own fixed order, through the evaluation path.
PassTotals Trainer::validation_pass() {
  TraceRange range("validation_pass");
  backend_.set_order(Split::kTrain, validation_indices_);
  const auto count = static_cast<int64_t>(validation_indices_.size());
  for (int64_t first = 0; first < count; first += config_.test_batch_size) {
    backend_.evaluate_batch(Split::kTrain, first, static_cast<int>(std::min<int64_t>(config_.test_batch_size, count - first)));
  }
  return backend_.take_totals(PassKind::kEvaluation);
}

void Trainer::save(const fs::path& file, const Position& position, const ModelState& state) {
  if (!writes_files_) return;  // rank 0 writes the job's one checkpoint
  TraceRange range("checkpoint");
  Checkpoint checkpoint;
  checkpoint.spec = backend_.network();
  checkpoint.state = state;
  checkpoint.metadata.epoch = position.epoch;
  checkpoint.metadata.batches_into_epoch = position.batches_into_epoch;
  checkpoint.metadata.seed = config_.seed;
  checkpoint.metadata.dataset = dataset_kind_name(dataset_.kind);
  if (dataset_has_own_name(dataset_.kind)) checkpoint.metadata.extra["dataset_name"] = dataset_.name;
  // For `predict`, which has the model but not the data (cli/model_from_checkpoint.h).
  if (!dataset_.class_names.empty() && dataset_.class_names != standard_class_names(dataset_.kind)) {
    checkpoint.metadata.extra["class_names"] = nlohmann::json(dataset_.class_names).dump();
  }
  checkpoint.metadata.extra["batch_size"] = std::to_string(config_.batch_size);
  checkpoint.metadata.extra["train_count"] = std::to_string(train_count_);
  if (position.batches_into_epoch > 0) totals_to_extra(position.partial, checkpoint.metadata.extra);
  std::map<std::string, std::string>& extra = checkpoint.metadata.extra;
  const OptimizerConfig& optimizer = config_.optimizer;
  extra["optimizer"] = optimizer_name(optimizer.kind);
  extra["optimizer.learning_rate"] = shortest_float(optimizer.learning_rate);
  if (optimizer.kind == OptimizerKind::kAdam || optimizer.kind == OptimizerKind::kAdamW) {
    extra["optimizer.beta1"] = shortest_float(optimizer.beta1);
    extra["optimizer.beta2"] = shortest_float(optimizer.beta2);
  }
  if (optimizer.kind != OptimizerKind::kSgd) extra["optimizer.epsilon"] = shortest_float(optimizer.epsilon);
  if (optimizer.kind == OptimizerKind::kAdamW) extra["optimizer.weight_decay"] = shortest_float(optimizer.weight_decay);
  if (optimizer.kind == OptimizerKind::kSgd || optimizer.kind == OptimizerKind::kRmsprop) {
    extra["optimizer.momentum"] = shortest_float(optimizer.momentum);
  }
  if (optimizer.kind == OptimizerKind::kSgd) extra["optimizer.nesterov"] = optimizer.nesterov ? "true" : "false";
  if (optimizer.kind == OptimizerKind::kRmsprop) extra["optimizer.rho"] = shortest_float(optimizer.rho);
  if (config_.schedule.kind != LrScheduleKind::kConstant) {
    extra["lr_schedule"] = lr_schedule_name(config_.schedule.kind);
    extra["lr_scale"] = shortest_float(lr_scale_);
  }
  if (!validation_indices_.empty()) {
    extra["validation_split"] = exact(config_.validation_split);
    tracker_to_extra(early_stopping_, "early_stopping", extra);
    if (config_.schedule.kind == LrScheduleKind::kPlateau) {
      tracker_to_extra(plateau_.tracker, "plateau", extra);
      extra["plateau.cooldown"] = std::to_string(plateau_.cooldown_counter);
    }
  }
  record_conv_algorithms(backend_.conv_algorithms(), checkpoint.metadata.extra);  // a resume runs the same pair
  save_checkpoint(file, checkpoint);
}

void Trainer::prune_old_checkpoints(int64_t newest_epoch) {
  if (config_.keep_last <= 0 || !writes_files_) return;
  const CheckpointPosition newest{newest_epoch, 0};
  const std::vector<fs::path> checkpoints = checkpoints_in_training_order(config_.run_dir / "checkpoints");
  int64_t epoch_checkpoints_kept = 0;
  std::error_code ignored;
  // Newest first. A mid-epoch checkpoint before the newest is superseded by it (a resume would
  // never pick it); one after it belongs to a run resumed from further back and is left alone.
  for (auto file = checkpoints.rbegin(); file != checkpoints.rend(); ++file) {
    const CheckpointPosition position = *parse_checkpoint_name(file->filename().string());
    if (newest < position) continue;
    const bool keep = position.batches == 0 && epoch_checkpoints_kept < config_.keep_last;
    if (keep) {
      ++epoch_checkpoints_kept;
    } else {
      fs::remove(*file, ignored);
    }
  }
}

TrainResult Trainer::run() {
  TrainResult result;
  ModelState state;
  Position position = start_position(state);
  // Before the "nothing to do" exit too: a run killed inside its last save leaves an 8 MB
  // temporary that a resume with nothing left to train would otherwise never clear.
  for (const fs::path& directory : {config_.run_dir / "checkpoints", config_.run_dir}) {
    if (!writes_files_) break;
    if (const int removed = remove_stale_temporaries(directory)) {
      out_ << "removed " << removed << " unfinished file(s) that a killed run left in " << directory.string() << "\n";
    }
  }
  if (position.epoch >= config_.epochs) {
    out_ << "nothing to do: the checkpoint has already completed " << position.epoch << " of " << config_.epochs
         << " epochs (raise --epochs to train further)\n";
    result.epochs_completed = position.epoch;
    result.last_checkpoint = config_.resume_from;
    return result;
  }
  std::optional<MetricsLog> metrics;
  if (writes_files_) metrics.emplace(config_.run_dir / "metrics.csv", position.epoch + 1, !config_.deterministic);
  result.last_checkpoint = config_.resume_from;
  config_.schedule.steps_per_epoch = batches_per_epoch_;
  backend_.set_learning_rate_schedule(config_.schedule, lr_scale_);
  const fs::path best_file = config_.run_dir / "checkpoints" / "best.safetensors";
  if (early_stopping_.best_epoch > 0) {
    result.best_checkpoint = best_file;
    result.best_epoch = early_stopping_.best_epoch;
  }
  if (observer_) {
    RunStart start;
    start.resumed = !config_.resume_from.empty();
    start.epochs_completed = position.epoch;
    start.batches_into_epoch = position.batches_into_epoch;
    start.step = state.step;
    start.epochs = config_.epochs;
    start.state = &state;
    observer_->on_run_start(start);
  }

  for (int64_t epoch = position.epoch; epoch < config_.epochs; ++epoch) {
    const Clock::time_point epoch_start = Clock::now();
    Position stop_at;
    PassTotals train = train_epoch(epoch, position, stop_at);
    const double train_seconds = seconds_since(epoch_start);
    // What the clock measured: this process's batches, not those before a resume.
    const int64_t timed_samples = train.samples;
    const int64_t resumed_at_batch = position.batches_into_epoch;
    if (position.batches_into_epoch > 0) {
      if (train.first_nonfinite_batch >= 0) train.first_nonfinite_batch += position.batches_into_epoch;
      PassTotals combined = position.partial;
      add_into(combined, train);
      train = combined;
    }
    if (train.first_nonfinite_batch >= 0 || !std::isfinite(train.batch_loss_sum)) {
      const int64_t batch = std::max<int64_t>(train.first_nonfinite_batch, 0);
      throw Error("training diverged: non-finite loss or gradients at epoch " + std::to_string(epoch + 1) + ", step " +
                  std::to_string(epoch * batches_per_epoch_ + batch + 1) + " (batch " + std::to_string(batch + 1) +
                  " of the epoch). The last good checkpoint is " +
                  (result.last_checkpoint.empty() ? std::string("none (it diverged in the first epoch)")
                                                  : result.last_checkpoint.string()) +
                  ". Try a smaller --lr");
    }
    if (stop_at.batches_into_epoch > 0) {
      const int stop_signal = agreed_stop_signal();  // non-zero: the same call stopped train_epoch
      stop_at.epoch = epoch;
      stop_at.partial = train;
      const fs::path file = interrupted_checkpoint_path(config_.run_dir, epoch + 1, stop_at.batches_into_epoch);
      save(file, stop_at, backend_.state());
      result.last_checkpoint = file;
      result.stop_signal = stop_signal;
      out_ << "\nstopped by " << (result.stop_signal == SIGINT ? "SIGINT" : "SIGTERM") << " at epoch " << epoch + 1
           << ", batch " << stop_at.batches_into_epoch << "/" << batches_per_epoch_ << "; checkpoint written to "
           << file.string() << "\nresume with: train_gpu --resume " << config_.run_dir.string() << "\n";
      return result;
    }
    position = Position{};

    const Clock::time_point test_start = Clock::now();
    const bool validating = !validation_indices_.empty();
    const PassTotals validation = validating ? validation_pass() : PassTotals{};
    const PassTotals test = test_pass();
    EpochMetrics row;
    // The rate of the epoch's first step, before this epoch's plateau check changes it.
    row.learning_rate = math::scheduled_learning_rate(config_.schedule, config_.optimizer.learning_rate, lr_scale_,
                                                      epoch * batches_per_epoch_ + 1);
    row.has_validation = validating;
    row.val_loss = validation.mean_sample_loss();
    row.val_accuracy = validation.accuracy();
    row.epoch = epoch + 1;
    row.train_loss = train.mean_batch_loss();
    row.train_accuracy = train.accuracy();
    row.test_loss = test.mean_sample_loss();
    row.test_accuracy = test.accuracy();
    row.epoch_seconds = train_seconds + seconds_since(test_start);
    row.samples_per_second = double(timed_samples) / train_seconds;
    row.resumed_at_batch = resumed_at_batch;
    if (metrics) metrics->append(row);
    out_ << "epoch " << row.epoch << "/" << config_.epochs << "  train loss " << fixed(row.train_loss, 4) << "  acc "
         << fixed(100 * row.train_accuracy, 2)
         << (validating ? "%  val loss " + fixed(row.val_loss, 4) + "  acc " + fixed(100 * row.val_accuracy, 2) : std::string())
         << "%  test loss " << fixed(row.test_loss, 4) << "  acc "
         << fixed(100 * row.test_accuracy, 2) << "%  " << fixed(row.epoch_seconds, 1) << " s  "
         << with_thousands(static_cast<int64_t>(row.samples_per_second)) << " samples/s"
         << (resumed_at_batch == 0 ? ""
                                   : " (resumed at batch " + std::to_string(resumed_at_batch) + "/" +
                                         std::to_string(batches_per_epoch_) + ": time and rate of the last " +
                                         std::to_string(batches_per_epoch_ - resumed_at_batch) + " batches)")
         << (config_.schedule.kind == LrScheduleKind::kConstant ? "" : "  lr " + shortest_float(static_cast<float>(row.learning_rate)))
         << (kernels_.empty() ? "" : "  [" + kernels_ + "]") << std::endl;

    // Keras's EarlyStopping and ReduceLROnPlateau watch val_loss; the best epoch so far is kept
    // as checkpoints/best.safetensors whether or not early stopping is on.
    const bool improved =
        validating && early_stopping_.record(row.val_loss, row.epoch, config_.early_stopping_min_delta);
    const bool stop_early = validating && config_.early_stopping > 0 && early_stopping_.wait >= config_.early_stopping &&
                            epoch + 1 < config_.epochs;
    // Keras: a cut only while the rate is above min_lr, new_lr = max(lr * factor, min_lr).
    const float floor_scale = config_.schedule.min_lr / config_.optimizer.learning_rate;
    if (validating && config_.schedule.kind == LrScheduleKind::kPlateau &&
        plateau_.record(row.val_loss, row.epoch,
                        PlateauRule{config_.plateau_patience, config_.plateau_cooldown, config_.plateau_min_delta},
                        lr_scale_ > floor_scale)) {
      lr_scale_ = std::max(lr_scale_ * config_.schedule.gamma, floor_scale);
      backend_.set_learning_rate_schedule(config_.schedule, lr_scale_);
      out_ << "plateau: val_loss has not improved by " << config_.plateau_min_delta << " for "
           << config_.plateau_patience << " epochs; learning rate now "
           << shortest_float(
                  math::scheduled_learning_rate(config_.schedule, config_.optimizer.learning_rate, lr_scale_, 1))
           << (config_.plateau_cooldown > 0 ? ", then " + std::to_string(config_.plateau_cooldown) + " epochs of cooldown"
                                            : std::string())
           << "\n";
    }

    const bool last = epoch + 1 == config_.epochs;
    const int stop_signal = agreed_stop_signal();
    const bool stopping = stop_signal != 0;
    const bool checkpoint_now =
        last || stopping || stop_early || (config_.save_every > 0 && (epoch + 1) % config_.save_every == 0);
    // One copy of the weights (a device sync on a GPU) serves the observer and both checkpoints.
    if (observer_ || checkpoint_now || improved) state = backend_.state();
    if (improved) {
      Position done;
      done.epoch = epoch + 1;
      save(best_file, done, state);
      result.best_checkpoint = best_file;
      result.best_epoch = epoch + 1;
    }
    if (observer_) observer_->on_epoch_end(row, (epoch + 1) * batches_per_epoch_, state);
    if (checkpoint_now) {
      const fs::path file = checkpoint_path(config_.run_dir, epoch + 1);
      Position done;
      done.epoch = epoch + 1;
      save(file, done, state);
      result.last_checkpoint = file;
      prune_old_checkpoints(epoch + 1);
    }
    result.epochs_completed = epoch + 1;
    result.last_epoch = row;
    if (stop_early) {
      result.stopped_early = true;
      out_ << "early stopping: val_loss has not improved for " << early_stopping_.wait << " epochs; the best was "
           << fixed(early_stopping_.best, 4) << " at epoch " << early_stopping_.best_epoch << " ("
           << best_file.string() << ")\n";
      break;
    }
    if (stopping && !last) {
      result.stop_signal = stop_signal;
      out_ << "stopped by " << (result.stop_signal == SIGINT ? "SIGINT" : "SIGTERM") << " after epoch " << epoch + 1
           << "; checkpoint written to " << result.last_checkpoint.string()
           << "\nresume with: train_gpu --resume " << config_.run_dir.string() << "\n";
      return result;
    }
  }
  if (config_.early_stopping > 0 && config_.restore_best && result.best_epoch > 0 &&
      result.best_epoch != result.epochs_completed) {
    backend_.set_state(load_checkpoint(result.best_checkpoint).state);
    result.restored_best = true;
    out_ << "restored the best weights: epoch " << result.best_epoch << " (" << result.best_checkpoint.string() << ")\n";
  }
  return result;
}

}  // namespace train_gpu
