#include "cuda/graph/graph_launches.h"

#include <utility>

#include "cuda/check.h"
#include "cuda/kernels/step_counters.h"
#include "cuda/memory.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

// Whether a training batch of `batch` fits at the start of the order (an order set, enough
// samples): the loader's own check, which throws otherwise.
bool fits_at_start(const BatchLoader& loader, int batch) {
  try {
    loader.check_batch(Split::kTrain, 0, batch);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Runs `enqueue` on the stream and then restores every region of `changed`. Synchronizes.
void run_undone(cudaStream_t stream, const std::vector<DeviceBytes>& changed, const std::function<void()>& enqueue) {
  std::vector<DeviceBuffer<unsigned char>> copies;
  for (const DeviceBytes& region : changed) {
    copies.emplace_back(region.bytes, "a copy of the training state");
    if (region.bytes == 0) continue;
    CUDA_CHECK(cudaMemcpyAsync(copies.back().data(), region.data, region.bytes, cudaMemcpyDeviceToDevice, stream));
  }
  enqueue();
  for (std::size_t i = 0; i < changed.size(); ++i) {
    if (changed[i].bytes == 0) continue;
    CUDA_CHECK(cudaMemcpyAsync(changed[i].data, copies[i].data(), changed[i].bytes, cudaMemcpyDeviceToDevice, stream));
  }
  // The copies are freed on return: they must not be read after.
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace

GraphLauncher::GraphLauncher(cudaStream_t stream, int steps_per_graph, math::StepCounters* counters,
                             TrainOne train_one, EvaluateOne evaluate_one)
    : stream_(stream),
      counters_(counters),
      train_one_(std::move(train_one)),
      evaluate_one_(std::move(evaluate_one)),
      planner_(steps_per_graph),
      graphs_(stream) {}

void GraphLauncher::execute(const std::vector<GraphLaunch>& launches) {
  for (const GraphLaunch& launch : launches) {
    if (launch.kind == GraphLaunch::Kind::kSetCursor) {
      launch_set_counter(&counters_->cursor[launch.split], launch.cursor, stream_);
      continue;
    }
    const Split split = launch.split == 0 ? Split::kTrain : Split::kTest;
    const std::function<void()> one_step = [&] {
      if (launch.training) {
        train_one_(launch.count);
      } else {
        evaluate_one_(split, launch.count);
      }
    };
    for (const int steps : graph_replays(launch.steps, planner_.steps_per_graph())) {
      graphs_.run(StepGraphKey{launch.training, launch.split, launch.count, steps}, one_step);
    }
  }
}

void GraphLauncher::follow_loader(const BatchLoader& loader) {
  graphs_.forget();
  planner_.forget_cursors();
  // Only while this loader is attached: a later device loader captures again.
  if (loader.gathers_at_device_cursor()) {
    graphs_.resume();
  } else {
    graphs_.suspend(std::string("--graph needs the dataset on the device (--loader device); the ") + loader.name() +
                    " loader gathers batches on the host");
  }
}

std::string GraphLauncher::launch_phrase() const {
  if (graphs_.disabled()) return "eager (" + graphs_.disabled_reason() + ")";
  return "graph (" + std::to_string(planner_.steps_per_graph()) + " steps per replay)";
}

GraphNodeCount count_training_step_nodes(BatchLoader& loader, int batch, math::StepCounters* counters,
                                         cudaStream_t stream, const std::vector<DeviceBytes>& changed,
                                         const std::function<void()>& one_step) {
  if (fits_at_start(loader, batch)) {
    run_undone(stream, changed, [&] {
      launch_set_counter(&counters->cursor[0], 0, stream);
      one_step();
    });
  }
  StepGraphs counter(stream);
  return counter.count_nodes(1, one_step);
}

}  // namespace train_gpu::cuda
