// A Backend that passes everything to a real one and raises a stop signal after `stop_after`
// training steps, as if SIGTERM had arrived during that step; a test may also change the real
// backend (its state) right before a chosen step.
#pragma once

#include <csignal>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "host/model/backend.h"
#include "host/train/stop_signal.h"

namespace train_gpu {

class StoppingBackend : public Backend {
 public:
  StoppingBackend(Backend& inner, int64_t stop_after) : inner_(inner), stop_after_(stop_after) {}
  void before_step(int64_t step, std::function<void(Backend&)> action) {
    action_step_ = step;
    action_ = std::move(action);
  }
  std::string description() const override { return inner_.description(); }
  void attach_data(const ImageSet& train, const ImageSet& test) override { inner_.attach_data(train, test); }
  void set_state(const ModelState& state) override { inner_.set_state(state); }
  ModelState state() override { return inner_.state(); }
  void set_learning_rate_schedule(const LrSchedule& schedule, float scale) override {
    inner_.set_learning_rate_schedule(schedule, scale);
  }
  void set_order(Split split, const std::vector<int32_t>& order) override { inner_.set_order(split, order); }
  void train_step(int64_t first, int count) override {
    if (steps_ + 1 == action_step_) action_(inner_);
    inner_.train_step(first, count);
    if (++steps_ == stop_after_) StopSignal::raise_for_test(SIGTERM);
  }
  void evaluate_batch(Split split, int64_t first, int count, float* out) override { inner_.evaluate_batch(split, first, count, out); }
  PassTotals take_totals(PassKind kind) override { return inner_.take_totals(kind); }
  PassTotals peek_totals(PassKind kind) override { return inner_.peek_totals(kind); }
  ImageActivations activations(Split split, int64_t index) override { return inner_.activations(split, index); }
  const model::NetworkSpec& network() const override { return inner_.network(); }
  ConvolutionAlgorithms conv_algorithms() const override { return algorithms_; }
  void pretend_to_run(const ConvolutionAlgorithms& algorithms) { algorithms_ = algorithms; }

 private:
  Backend& inner_;
  int64_t stop_after_;
  int64_t steps_ = 0;
  int64_t action_step_ = -1;
  std::function<void(Backend&)> action_;
  ConvolutionAlgorithms algorithms_;
};

}  // namespace train_gpu
