// Spec models (cuda/network/) on several GPU ranks, as the tutorial's (nccl_all_reduce_test.cpp)
// and as CPU ranks train them (host/model/cpu_backend.cpp): the ranks are threads of this process,
// one per GPU, bootstrapped through gpu/thread_collectives.h.
//   - Dropout draws a rank's slice of the global batch exactly as the CPU layer does (any GPU).
//   - A world of one over NCCL trains bit for bit as one process (any GPU: the device check's
//     smoke test of the spec path's all-reduce), and --graph is off there, saying why.
//   - Every GPU of the machine as a rank trains as the same number of CPU ranks (two GPUs or
//     more): the three specs, a batch smaller than the world included.
// Skipped where no CUDA device answers; the NCCL tests where the build has no NCCL, which
// instead refuses several ranks in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/handles.h"
#include "cuda/network/cuda_network.h"
#include "gpu/backend_inputs.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/dropout_masks.h"
#include "gpu/spec_backend_inputs.h"
#include "gpu/thread_collectives.h"
#include "host/common/error.h"
#include "host/distributed/batch_slice.h"
#include "host/model/cpu_backend.h"
#include "host/model/initializer.h"
#include "support/example_specs.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

using cuda::testing::bitwise_equal;
using cuda::testing::dropout_layer_of;
using cuda::testing::expect_updates_close;
using cuda::testing::NamedSpec;
using cuda::testing::options_for;
using cuda::testing::random_image_set;
using cuda::testing::SharedWorld;
using cuda::testing::shuffled;
using cuda::testing::specs;
using cuda::testing::ThreadCollectives;

// network_backend_test.cpp's whole-network bound (its header derives it): the GPU and CPU sum
// in other orders, and the ranks' sums add one more reordering of the same terms.
constexpr double kStepTolerance = 1e-2;

class NetworkRanksTest : public cuda::testing::CudaTest {};

// Both layers at seed 5, step 9 (given by value).
std::vector<uint8_t> gpu_mask(const model::NetworkSpec& spec, int layer, int first_sample, int count) {
  return cuda::testing::gpu_dropout_mask(spec, layer, 5, math::per_step_value<int64_t>(9), first_sample, count);
}

std::vector<uint8_t> cpu_mask(const model::NetworkSpec& spec, int layer, int first_sample, int count) {
  return cuda::testing::cpu_dropout_mask(spec, layer, 5, 9, first_sample, count);
}

TEST_F(NetworkRanksTest, DropoutDrawsARanksSliceAsTheCpuLayerDoes) {
  // The convnet's Dropout sees 1,600 features per image, so its slices start on a Philox block's
  // boundary; one of 5 features makes them start inside a block, shared with the rank before.
  using namespace testing::layers;
  const model::NetworkSpec odd = model::build_network({1, 5, 1}, {flatten(), dropout(0.4f), dense(3)});
  for (const model::NetworkSpec& spec : {testing::simple_mnist_convnet(), odd}) {
    const int layer = dropout_layer_of(spec);
    ASSERT_GE(layer, 0);
    const std::vector<uint8_t> whole = gpu_mask(spec, layer, 0, 11);
    EXPECT_EQ(whole, cpu_mask(spec, layer, 0, 11));
    // Slices of 11 over 3 ranks (3, 4, 4 samples): each the CPU's slice, and together the whole.
    std::vector<uint8_t> joined;
    for (int rank = 0; rank < 3; ++rank) {
      const distributed::BatchSlice slice = distributed::rank_slice(11, rank, 3);
      const std::vector<uint8_t> gpu = gpu_mask(spec, layer, slice.offset, slice.count);
      EXPECT_EQ(gpu, cpu_mask(spec, layer, slice.offset, slice.count)) << "rank " << rank;
      joined.insert(joined.end(), gpu.begin(), gpu.end());
    }
    EXPECT_EQ(joined, whole);
    EXPECT_NE(gpu_mask(spec, layer, 1, 10), std::vector<uint8_t>(whole.begin(), whole.begin() + std::ptrdiff_t(whole.size() * 10 / 11)))
        << "a slice past 0 must not draw the batch's first masks";
  }
}

#ifdef TRAIN_GPU_HAVE_NCCL

// What one rank (or one process) leaves after `steps` SGD steps of 16 on its data, then one of 1.
struct RankResult {
  ModelState state;
  PassTotals totals;
  ExecutionReport report;
  std::string error;
};

void train_steps(Backend& backend, const BackendOptions& options, int steps) {
  backend.attach_data(random_image_set(options.spec, 64, 1), random_image_set(options.spec, 16, 2));
  backend.set_state(initial_model_state(options.spec, 42));
  backend.set_order(Split::kTrain, shuffled(64, 3));
  for (int step = 0; step < steps; ++step) backend.train_step(16 * int64_t(step), 16);
  backend.train_step(63, 1);  // smaller than any world of two or more: ranks without samples
}

RankResult run_rank(const BackendOptions& options, bool gpu, int steps) {
  RankResult result;
  try {
    const std::unique_ptr<Backend> backend =
        gpu ? cuda::make_network_backend(options.collectives ? options.collectives->rank() : 0, options)
            : make_cpu_backend(options);
    train_steps(*backend, options, steps);
    result.totals = backend->take_totals(PassKind::kTraining);
    result.state = backend->state();
    result.report = backend->execution_report(16);
  } catch (const std::exception& error) {
    result.error = error.what();
  }
  return result;
}

// Each rank of a world of `ranks` threads, GPU or CPU.
std::vector<RankResult> run_world(BackendOptions options, bool gpu, int ranks, int steps) {
  SharedWorld world;
  std::vector<RankResult> results(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank, options]() mutable {
      ThreadCollectives collectives(rank, ranks, world);
      options.collectives = &collectives;
      results[std::size_t(rank)] = run_rank(options, gpu, steps);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int rank = 0; rank < ranks; ++rank) EXPECT_EQ(results[std::size_t(rank)].error, "") << "rank " << rank;
  return results;
}

BackendOptions sgd_options(const model::NetworkSpec& spec) {
  BackendOptions options = options_for(spec);
  options.deterministic = true;
  // SGD: an update proportional to the gradient, so a wrong scale or a lost slice shows (Adam's
  // first steps are nearly scale-free).
  options.optimizer.kind = OptimizerKind::kSgd;
  options.optimizer.learning_rate = 0.05f;
  options.optimizer.momentum = 0.9f;
  return options;
}

TEST_F(NetworkRanksTest, AWorldOfOneOverNcclTrainsBitwiseAsOneProcess) {
  // The all-reduce of one rank leaves the gradients as they are and the slice is the whole batch:
  // the same kernels on the same values as one process, so the same bits; with --kernels fused
  // too (the epilogues and fused pooling still write the whole gradient arena the sum reads).
  std::vector<std::pair<NamedSpec, const char*>> runs;
  for (const NamedSpec& named : specs()) runs.emplace_back(named, "classic");
  for (const NamedSpec& named : cuda::testing::fused_specs()) runs.emplace_back(named, "fused");
  for (const auto& [named, kernels] : runs) {
    SCOPED_TRACE(std::string(named.name) + ", --kernels " + kernels);
    BackendOptions options = sgd_options(named.spec);
    options.kernels = kernels;
    const RankResult alone = run_rank(options, true, 3);
    ASSERT_EQ(alone.error, "");
    BackendOptions ranked = options;
    ranked.graph = true;  // off with several ranks, whatever the world's size
    const std::vector<RankResult> world = run_world(ranked, true, 1, 3);
    const RankResult& rank = world[0];
    EXPECT_EQ(rank.state.step, 4);
    EXPECT_TRUE(bitwise_equal(rank.state.parameters, alone.state.parameters));
    EXPECT_TRUE(bitwise_equal(rank.state.adam_m, alone.state.adam_m));
    EXPECT_TRUE(bitwise_equal(rank.state.buffers, alone.state.buffers));
    EXPECT_EQ(rank.totals.batch_loss_sum, alone.totals.batch_loss_sum);
    EXPECT_EQ(rank.totals.samples, 3 * 16 + 1);
    EXPECT_EQ(rank.totals.confusion, alone.totals.confusion);
    EXPECT_EQ(rank.report.launch, "eager (--graph is off with several ranks)");
  }
}

TEST_F(NetworkRanksTest, EveryGpuAsARankTrainsAsTheSameNumberOfCpuRanks) {
  int devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices < 2) GTEST_SKIP() << "this machine has " << devices << " GPU; ranks need one GPU each, at least 2";
  const int ranks = std::min(devices, 4);
  for (const NamedSpec& named : specs()) {
    SCOPED_TRACE(named.name + (" on " + std::to_string(ranks) + " ranks"));
    const BackendOptions options = sgd_options(named.spec);
    const std::vector<RankResult> gpus = run_world(options, true, ranks, 3);
    const std::vector<RankResult> cpus = run_world(options, false, ranks, 3);
    // Every GPU rank applied the same summed update (NCCL gives every rank the same sum).
    for (int rank = 1; rank < ranks; ++rank) {
      EXPECT_TRUE(bitwise_equal(gpus[std::size_t(rank)].state.parameters, gpus[0].state.parameters)) << "rank " << rank;
    }
    // Rank by rank as the CPU's ranks: the same slices, masks and global-batch mean (a gradient
    // scaled by the local batch, a slice dropped or a mask drawn twice is O(1), far outside).
    const ModelState start = initial_model_state(named.spec, 42);
    for (int rank = 0; rank < ranks; ++rank) {
      SCOPED_TRACE("rank " + std::to_string(rank));
      const RankResult& gpu = gpus[std::size_t(rank)];
      const RankResult& cpu = cpus[std::size_t(rank)];
      EXPECT_EQ(gpu.state.step, 4);
      expect_updates_close(named.spec, gpu.state.parameters, cpu.state.parameters, start.parameters, kStepTolerance);
      // Each rank's own moving statistics, from its own slices, as on the CPU (4 updates of
      // per-channel statistics of nearly equal inputs: network_backend_test's 1e-3).
      EXPECT_TRUE(cuda::testing::all_close(gpu.state.buffers, cpu.state.buffers, 1e-3, 1e-5));
      EXPECT_EQ(gpu.totals.samples, cpu.totals.samples);
      EXPECT_NEAR(gpu.totals.batch_loss_sum, cpu.totals.batch_loss_sum, 1e-3 * std::fabs(cpu.totals.batch_loss_sum) + 1e-6);
    }
  }
}

#else

TEST_F(NetworkRanksTest, SeveralRanksAreRefusedInOneLineWithoutNccl) {
  SharedWorld world;
  ThreadCollectives collectives(0, 2, world);
  BackendOptions options = options_for(testing::simple_mnist_convnet());
  options.collectives = &collectives;
  const std::string error = testing::error_of([&] { cuda::make_network_backend(0, options); });
  EXPECT_NE(error.find("rank 0 of 2: GPU ranks sum their gradients with NCCL, which this build lacks"),
            std::string::npos)
      << error;
}

#endif

}  // namespace
}  // namespace train_gpu
