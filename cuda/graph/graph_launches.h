// What a backend does with --graph beyond capturing one graph (step_graphs.h) and planning the
// launches (launch_plan.h), shared by the tutorial's backend (cuda/cuda_backend.cu) and the spec
// network's (cuda/network/network_backend.cu): carrying out the plan, following the loader, the
// execution report's launch phrase and its kernels-per-step count.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cuda/graph/launch_plan.h"
#include "cuda/graph/step_graphs.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/math/step_counters.h"

namespace train_gpu::cuda {

// A backend's graph launches: train_step and evaluate_batch calls become the LaunchPlanner's plan,
// carried out on the stream as cursor writes into the device counters and graph replays
// (StepGraphs::run) of one step at the device cursor, enqueued by the backend's train_one(count)
// or evaluate_one(split, count), which read every per-step value from the counters.
class GraphLauncher {
 public:
  using TrainOne = std::function<void(int count)>;
  using EvaluateOne = std::function<void(Split split, int count)>;

  GraphLauncher(cudaStream_t stream, int steps_per_graph, math::StepCounters* counters, TrainOne train_one,
                EvaluateOne evaluate_one);

  // A training step on order[first, first + count) (maybe held back to fill a graph group).
  void train_step(int64_t first, int count) { execute(planner_.train_step(first, count)); }
  // An evaluation batch on order[first, first + count) of `split` (releases held steps first).
  void evaluate_batch(Split split, int64_t first, int count) {
    execute(planner_.evaluate_batch(split == Split::kTrain ? 0 : 1, first, count));
  }
  // Launches the held training steps: before anything that reads their results or changes what
  // they read.
  void flush() { execute(planner_.flush()); }
  int held_steps() const { return planner_.held_steps(); }

  // After a new loader was attached: the captured graphs point into the old loader's buffers and
  // the device cursors are unknown, so both are forgotten; graphs resume with a loader that
  // gathers at the device cursor and are suspended, with the reason, with one that gathers on the
  // host.
  void follow_loader(const BatchLoader& loader);
  // Drops every captured graph (a new schedule: its values are captured launch arguments).
  void forget() { graphs_.forget(); }

  // execution_report's launch column: "eager (why)" while graphs are off, else
  // "graph (N steps per replay)".
  std::string launch_phrase() const;
  // Nodes per step of the first graph captured for training batches of `count`; zeros before.
  GraphNodeCount nodes_per_step(int count) const { return graphs_.nodes_per_step(count); }

 private:
  void execute(const std::vector<GraphLaunch>& launches);

  cudaStream_t stream_;
  math::StepCounters* counters_;
  TrainOne train_one_;
  EvaluateOne evaluate_one_;
  LaunchPlanner planner_;
  StepGraphs graphs_;
};

// A stretch of device memory a step changes.
struct DeviceBytes {
  void* data = nullptr;
  std::size_t bytes = 0;
};

// The nodes of one training step of `batch` at the device cursor, captured (never run) by
// one_step: it launches exactly the kernels of an eager step, which differ only in where they
// read the batch position and the step size. First the same step once eagerly, with every
// region of `changed` (all a step writes that outlives it) put back afterwards: a library's
// first-use setup (lazy loading, workspace allocation, a synchronizing query) inside the
// capture would invalidate it and count 0. That step runs at the order's start (the device
// cursor may stand at the end of an epoch, which a capture never reads but a run would) and
// only where such a batch fits the order. Synchronizes. Zeros where the capture fails.
GraphNodeCount count_training_step_nodes(BatchLoader& loader, int batch, math::StepCounters* counters,
                                         cudaStream_t stream, const std::vector<DeviceBytes>& changed,
                                         const std::function<void()>& one_step);

}  // namespace train_gpu::cuda
