// Which graph launches a sequence of train_step / evaluate_batch calls becomes. Plain C++ (no
// CUDA), so the bookkeeping is tested on the CPU.
//
// A captured step reads its batch position from a device cursor (cuda/math/step_counters.h)
// that each replay advances by the batch size. So consecutive batches of one size replay the
// same graph with nothing but cudaGraphLaunch; the planner only has to
//   - set a cursor when a call does not start where the device cursor stands (the first batch
//     of a pass, a resume in mid-epoch, an evaluation jumping around), and
//   - group runs of equal-size consecutive training steps into graphs of steps_per_graph steps
//     (fewer launches, and the device never waits between them). Steps are held back until a
//     group is full; flush() releases a partial group, and the backend flushes before anything
//     that reads results or changes what the held steps would read (totals, state, orders).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace train_gpu::cuda {

struct GraphLaunch {
  enum class Kind {
    kSetCursor,  // device cursor[split] = cursor
    kRun,        // `steps` consecutive batches of `count` (training: train steps; else evaluation)
  };
  Kind kind = Kind::kRun;
  int split = 0;
  int64_t cursor = 0;
  int count = 0;
  int steps = 0;
  bool training = false;

  friend bool operator==(const GraphLaunch& a, const GraphLaunch& b) {
    return a.kind == b.kind && a.split == b.split && a.cursor == b.cursor && a.count == b.count &&
           a.steps == b.steps && a.training == b.training;
  }
};

class LaunchPlanner {
 public:
  explicit LaunchPlanner(int steps_per_graph) : steps_per_graph_(steps_per_graph < 1 ? 1 : steps_per_graph) {}

  int steps_per_graph() const { return steps_per_graph_; }

  // A training step on order[first, first + count) of the training split.
  std::vector<GraphLaunch> train_step(int64_t first, int count) {
    std::vector<GraphLaunch> launches;
    const bool continues = pending_steps_ > 0 && count == pending_count_ &&
                           first == pending_first_ + int64_t{pending_steps_} * pending_count_;
    if (!continues) append(launches, flush());
    if (pending_steps_ == 0) {
      move_cursor(launches, kTrainSplit, first);
      pending_first_ = first;
      pending_count_ = count;
    }
    ++pending_steps_;
    *cursor_[kTrainSplit] += count;
    if (pending_steps_ == steps_per_graph_) append(launches, flush());
    return launches;
  }

  // An evaluation batch on order[first, first + count) of `split` (0 train, 1 test).
  std::vector<GraphLaunch> evaluate_batch(int split, int64_t first, int count) {
    std::vector<GraphLaunch> launches = flush();
    move_cursor(launches, split, first);
    *cursor_[static_cast<std::size_t>(split)] += count;
    launches.push_back(run(split, count, 1, false));
    return launches;
  }

  // Releases held training steps (a group shorter than steps_per_graph).
  std::vector<GraphLaunch> flush() {
    std::vector<GraphLaunch> launches;
    if (pending_steps_ > 0) launches.push_back(run(kTrainSplit, pending_count_, pending_steps_, true));
    pending_steps_ = 0;
    return launches;
  }

  int held_steps() const { return pending_steps_; }

  // The device cursors are no longer known (the counters were rewritten): the next call sets them.
  void forget_cursors() { cursor_ = {}; }

 private:
  static constexpr std::size_t kTrainSplit = 0;

  static GraphLaunch run(int split, int count, int steps, bool training) {
    GraphLaunch launch;
    launch.kind = GraphLaunch::Kind::kRun;
    launch.split = split;
    launch.count = count;
    launch.steps = steps;
    launch.training = training;
    return launch;
  }

  void move_cursor(std::vector<GraphLaunch>& launches, std::size_t split, int64_t first) {
    if (cursor_[split] == first) return;
    GraphLaunch set;
    set.kind = GraphLaunch::Kind::kSetCursor;
    set.split = static_cast<int>(split);
    set.cursor = first;
    launches.push_back(set);
    cursor_[split] = first;
  }

  static void append(std::vector<GraphLaunch>& to, const std::vector<GraphLaunch>& more) {
    to.insert(to.end(), more.begin(), more.end());
  }

  int steps_per_graph_;
  std::array<std::optional<int64_t>, 2> cursor_{};  // device cursor after every launch planned so far
  int pending_steps_ = 0;
  int pending_count_ = 0;
  int64_t pending_first_ = 0;
};

// The graph replays a run of `steps` consecutive batches becomes: as many steps_per_graph graphs
// as fit, then ONE graph of the remaining steps (captured once per remainder and batch size).
// A flush of a partial group (a totals read for progress every 100 steps, the epoch's end) thus
// costs one launch, not one replay per held step.
inline std::vector<int> graph_replays(int steps, int steps_per_graph) {
  if (steps_per_graph < 1) steps_per_graph = 1;
  std::vector<int> replays(static_cast<std::size_t>(steps / steps_per_graph), steps_per_graph);
  if (steps % steps_per_graph != 0) replays.push_back(steps % steps_per_graph);
  return replays;
}

}  // namespace train_gpu::cuda
