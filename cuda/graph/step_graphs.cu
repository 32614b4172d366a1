// Capture protocol. Capture runs on the backend's own stream in thread-local mode (only this
// thread's unsafe calls invalidate it): everything the step enqueues (our kernels, cuDNN and
// cuBLAS/cuBLASLt calls with their fixed workspaces) becomes graph nodes with its arguments
// frozen, which is why every per-step value is read from device memory instead. Anything that
// goes wrong while capturing (a library refusing capture, an Error thrown by a check) ends the
// capture, clears the error, and leaves the backend on eager launches: a step never runs twice
// and never gets lost, because a failed capture executed nothing.
#include "cuda/graph/step_graphs.h"

#include <cstdio>
#include <exception>
#include <vector>

#include "cuda/check.h"

namespace train_gpu::cuda {

namespace detail {
void GraphExecDeleter::operator()(cudaGraphExec_t exec) const noexcept {
  const cudaError_t status = cudaGraphExecDestroy(exec);
  if (status != cudaSuccess) {
    std::fprintf(stderr, "train_gpu: warning: destroying a CUDA graph failed: %s\n", cudaGetErrorString(status));
  }
}
}  // namespace detail

namespace {

struct GraphDeleter {
  void operator()(cudaGraph_t graph) const noexcept { (void)cudaGraphDestroy(graph); }
};
using Graph = std::unique_ptr<std::remove_pointer_t<cudaGraph_t>, GraphDeleter>;

GraphNodeCount count_graph_nodes(cudaGraph_t graph) {
  std::size_t count = 0;
  CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  if (count > 0) CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  GraphNodeCount result;
  result.total = static_cast<int>(count);
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    if (type == cudaGraphNodeTypeKernel) ++result.kernels;
  }
  return result;
}

// Records what `enqueue` puts on the stream. On failure: the capture is ended, the error
// cleared, *failure says why and the graph is null.
Graph record(cudaStream_t stream, const std::function<void()>& enqueue, std::string* failure) {
  cudaError_t status = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    *failure = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(status);
    return nullptr;
  }
  std::string thrown;
  try {
    enqueue();
  } catch (const std::exception& error) {
    thrown = error.what();
  }
  cudaGraph_t graph = nullptr;
  status = cudaStreamEndCapture(stream, &graph);  // always: it takes the stream out of capture mode
  Graph owned(graph);
  if (!thrown.empty() || status != cudaSuccess || graph == nullptr) {
    (void)cudaGetLastError();
    *failure = !thrown.empty() ? thrown : std::string("cudaStreamEndCapture: ") + cudaGetErrorString(status);
    return nullptr;
  }
  return owned;
}

}  // namespace

StepGraphs::Captured StepGraphs::capture(int steps, const std::function<void()>& one_step, std::string* failure) {
  Captured captured;
  const Graph graph = record(
      stream_,
      [&] {
        for (int step = 0; step < steps; ++step) one_step();
      },
      failure);
  if (!graph) return captured;
  try {
    captured.nodes = count_graph_nodes(graph.get());
  } catch (const std::exception& error) {
    *failure = error.what();
    return captured;
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph.get(), 0);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    *failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(status);
    return captured;
  }
  captured.exec = GraphExec(exec);
  return captured;
}

void StepGraphs::run(const StepGraphKey& key, const std::function<void()>& one_step) {
  auto eager = [&] {
    for (int step = 0; step < key.steps; ++step) one_step();
  };
  if (disabled()) return eager();
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    const auto shape = std::make_tuple(key.training, key.split, key.count);
    if (warmed_.insert(shape).second) return eager();
    std::string failure;
    Captured captured = capture(key.steps, one_step, &failure);
    if (!captured.exec) {
      disable("CUDA graph capture failed (" + failure + ")");
      return eager();
    }
    if (key.training) {
      training_nodes_per_step_.emplace(
          key.count, GraphNodeCount{captured.nodes.kernels / key.steps, captured.nodes.total / key.steps});
    }
    found = graphs_.emplace(key, std::move(captured)).first;
  }
  CUDA_CHECK(cudaGraphLaunch(found->second.exec.get(), stream_));
}

void StepGraphs::forget() {
  graphs_.clear();
  warmed_.clear();
  training_nodes_per_step_.clear();
}

void StepGraphs::disable(const std::string& reason) {
  if (disabled()) return;
  disabled_reason_ = reason.empty() ? "disabled" : reason;
  graphs_.clear();
  std::fprintf(stderr, "train_gpu: note: %s; launching kernels one by one from here on\n", disabled_reason_.c_str());
}

void StepGraphs::suspend(const std::string& reason) {
  if (suspended_reason_ == reason || !disabled_reason_.empty()) return;
  suspended_reason_ = reason.empty() ? "suspended" : reason;
  std::fprintf(stderr, "train_gpu: note: %s; launching kernels one by one with it\n", suspended_reason_.c_str());
}

GraphNodeCount StepGraphs::nodes_per_step(int count) const {
  const auto found = training_nodes_per_step_.find(count);
  return found == training_nodes_per_step_.end() ? GraphNodeCount{} : found->second;
}

GraphNodeCount StepGraphs::count_nodes(int steps, const std::function<void()>& one_step) {
  std::string failure;
  const Graph graph = record(
      stream_,
      [&] {
        for (int step = 0; step < steps; ++step) one_step();
      },
      &failure);
  if (!graph) return GraphNodeCount{};
  const GraphNodeCount nodes = count_graph_nodes(graph.get());
  return GraphNodeCount{nodes.kernels / steps, nodes.total / steps};
}

}  // namespace train_gpu::cuda
