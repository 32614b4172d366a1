// CUDA graphs of the training and evaluation steps: captured once per shape, replayed with one
// cudaGraphLaunch each (see step_graphs.cu for the capture protocol and launch_plan.h for which
// replays a sequence of calls becomes).
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>

namespace train_gpu::cuda {

namespace detail {
struct GraphExecDeleter {
  void operator()(cudaGraphExec_t exec) const noexcept;
};
}  // namespace detail
using GraphExec = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, detail::GraphExecDeleter>;

// What a graph runs: `steps` consecutive batches of `count` samples of `split`, training steps
// or evaluation batches. One graph per key; the batch position comes from the device cursor.
struct StepGraphKey {
  bool training = true;
  int split = 0;
  int count = 0;
  int steps = 1;

  friend bool operator<(const StepGraphKey& a, const StepGraphKey& b) {
    return std::tie(a.training, a.split, a.count, a.steps) < std::tie(b.training, b.split, b.count, b.steps);
  }
};

// The nodes of a captured graph, for `train_gpu bench`'s kernels-per-step column.
struct GraphNodeCount {
  int kernels = 0;  // kernel nodes (every kernel launch, library kernels included)
  int total = 0;    // all nodes (memsets, copies, ...)
};

class StepGraphs {
 public:
  explicit StepGraphs(cudaStream_t stream) : stream_(stream) {}

  // Enqueues key.steps repetitions of `one_step` (which enqueues one step on the stream and
  // reads its per-step values from device memory). The first time a (training, split, count)
  // runs, it runs eagerly: lazy module loading and the libraries' first-call setup happen
  // outside any capture. From the second time on, the key's graph is captured (once) and
  // replayed. A failed capture never throws: it records why, switches to eager launches for
  // good and enqueues the work eagerly, so the caller's step still happens exactly once.
  void run(const StepGraphKey& key, const std::function<void()>& one_step);

  // Drops every captured graph (they point at buffers about to be replaced); the next runs warm
  // up and capture again.
  void forget();

  // Switches to eager launches for good, with the reason (a capture failure).
  void disable(const std::string& reason);
  // Eager launches until resume(), with the reason (a loader that gathers on the host): unlike a
  // failed capture, that passes when the next data set is attached with a device loader.
  void suspend(const std::string& reason);
  void resume() { suspended_reason_.clear(); }
  bool disabled() const { return !disabled_reason_.empty() || !suspended_reason_.empty(); }
  const std::string& disabled_reason() const {
    return disabled_reason_.empty() ? suspended_reason_ : disabled_reason_;
  }

  // Nodes per step of the first graph captured for training batches of `count`; zeros before.
  GraphNodeCount nodes_per_step(int count) const;

  // Captures `steps` repetitions of one_step into a graph without keeping or running it: the
  // node count of a step that runs eagerly. Zeros when the capture fails (nothing is disabled).
  GraphNodeCount count_nodes(int steps, const std::function<void()>& one_step);

 private:
  struct Captured {
    GraphExec exec;
    GraphNodeCount nodes;
  };
  // The instantiated graph of `steps` repetitions, or nullptr with *failure set.
  Captured capture(int steps, const std::function<void()>& one_step, std::string* failure);

  cudaStream_t stream_;
  std::map<StepGraphKey, Captured> graphs_;
  std::set<std::tuple<bool, int, int>> warmed_;  // (training, split, count) run eagerly once
  std::map<int, GraphNodeCount> training_nodes_per_step_;
  std::string disabled_reason_;
  std::string suspended_reason_;
};

}  // namespace train_gpu::cuda
