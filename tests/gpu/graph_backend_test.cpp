// The CUDA backend's --graph, --kernels fused and --pooling cudnn paths through the Backend
// interface: graph replays give the eager launches' bits, every kernel variant matches the CPU
// backend (the oracle), graphs fall back cleanly, and the kernel count falls with fusion.
// Skipped where no CUDA device answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "gpu/backend_inputs.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/one_step_tolerance.h"
#include "host/model/cpu_backend.h"
#include "host/model/initializer.h"
#include "host/model/model_spec.h"

namespace train_gpu {
namespace {

using cuda::testing::all_close;
using cuda::testing::direct_sum_algorithms;
using cuda::testing::one_step_close;
using cuda::testing::random_images;
using cuda::testing::shuffled;

class GraphBackendTest : public cuda::testing::CudaTest {};

BackendOptions options_with(bool graph, const std::string& kernels, const std::string& pooling, int max_batch = 64) {
  BackendOptions options;
  options.max_batch = max_batch;
  options.loader = "device";
  options.graph = graph;
  options.graph_steps = 2;  // small, so a pass has both two-step groups and single steps
  options.kernels = kernels;
  options.pooling = pooling;
  options.deterministic = true;
  return options;
}

// What a few epochs leave behind: the state, and every pass's totals.
struct Trace {
  ModelState state;
  std::vector<PassTotals> passes;
  ExecutionReport report;
};

// 300 training samples in batches of 64 (4 full + one of 44) and 96 test samples in batches of
// 64 (one full, one of 32), for `epochs` epochs with a new order each: every graph shape.
Trace train(Backend& backend, const ImageSet& train_set, const ImageSet& test_set, int epochs) {
  Trace trace;
  backend.attach_data(train_set, test_set);
  backend.set_state(initial_model_state(42));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    backend.set_order(Split::kTrain, shuffled(train_set.count, 10 + static_cast<uint32_t>(epoch)));
    for (int64_t first = 0; first < train_set.count; first += 64) {
      backend.train_step(first, static_cast<int>(std::min<int64_t>(64, train_set.count - first)));
    }
    trace.passes.push_back(backend.take_totals(PassKind::kTraining));
    backend.set_order(Split::kTest, shuffled(test_set.count, 20));
    for (int64_t first = 0; first < test_set.count; first += 64) {
      backend.evaluate_batch(Split::kTest, first, static_cast<int>(std::min<int64_t>(64, test_set.count - first)));
    }
    trace.passes.push_back(backend.take_totals(PassKind::kEvaluation));
  }
  trace.state = backend.state();
  trace.report = backend.execution_report(64);
  return trace;
}

void expect_same_totals(const PassTotals& a, const PassTotals& b, std::size_t pass) {
  EXPECT_EQ(a.batch_loss_sum, b.batch_loss_sum) << "pass " << pass;
  EXPECT_EQ(a.sample_loss_sum, b.sample_loss_sum) << "pass " << pass;
  EXPECT_EQ(a.batches, b.batches) << "pass " << pass;
  EXPECT_EQ(a.samples, b.samples) << "pass " << pass;
  EXPECT_EQ(a.correct, b.correct) << "pass " << pass;
  EXPECT_EQ(a.confusion, b.confusion) << "pass " << pass;
  EXPECT_EQ(a.first_nonfinite_batch, b.first_nonfinite_batch) << "pass " << pass;
}

TEST_F(GraphBackendTest, GraphReplaysGiveTheEagerLaunchesBits) {
  // The claim that lets --graph become the default: same kernels, same arguments (read from the
  // device instead of passed), same results to the bit, for both kernel sets.
  const ImageSet train_set = random_images(300, 1), test_set = random_images(96, 2);
  for (const char* kernels : {"classic", "fused"}) {
    const auto eager_backend = cuda::make_cuda_backend(0, options_with(false, kernels, "fused"));
    const auto graph_backend = cuda::make_cuda_backend(0, options_with(true, kernels, "fused"));
    const Trace eager = train(*eager_backend, train_set, test_set, 3);
    const Trace graph = train(*graph_backend, train_set, test_set, 3);
    // Two instances compare only if they chose the same cuDNN algorithms (--deterministic).
    ASSERT_EQ(eager.report.details, graph.report.details) << kernels;
    EXPECT_EQ(eager.report.launch, "eager");
    EXPECT_EQ(graph.report.launch.rfind("graph", 0), 0u) << graph.report.launch;
    EXPECT_GT(graph.report.kernels_per_step, 0);
    EXPECT_EQ(graph.report.kernels_per_step, eager.report.kernels_per_step) << kernels;
    EXPECT_EQ(graph.state.step, 15);
    EXPECT_EQ(graph.state.parameters, eager.state.parameters) << kernels;
    EXPECT_EQ(graph.state.adam_m, eager.state.adam_m) << kernels;
    EXPECT_EQ(graph.state.adam_v, eager.state.adam_v) << kernels;
    ASSERT_EQ(graph.passes.size(), eager.passes.size());
    for (std::size_t pass = 0; pass < graph.passes.size(); ++pass) {
      expect_same_totals(graph.passes[pass], eager.passes[pass], pass);
    }
  }
}

TEST_F(GraphBackendTest, HeldStepsAreAppliedBeforeAnythingReadsTheResults) {
  // Graphs of 2 steps hold an odd step back; state() and peek_totals() must release it.
  const ImageSet train_set = random_images(300, 3), test_set = random_images(96, 4);
  const auto backend = cuda::make_cuda_backend(0, options_with(true, "classic", "fused"));
  backend->attach_data(train_set, test_set);
  backend->set_state(initial_model_state(5));
  backend->set_order(Split::kTrain, shuffled(train_set.count, 6));
  for (int64_t first = 0; first < 192; first += 64) backend->train_step(first, 64);
  EXPECT_EQ(backend->peek_totals(PassKind::kTraining).batches, 3);
  EXPECT_EQ(backend->state().step, 3);
  // A resumed position (not where the device cursor stands) still trains the right samples: the
  // totals count them, and the step count follows.
  backend->train_step(256, 44);
  EXPECT_EQ(backend->take_totals(PassKind::kTraining).samples, 3 * 64 + 44);
  EXPECT_EQ(backend->state().step, 4);
}

TEST_F(GraphBackendTest, EveryKernelVariantMatchesTheCpuBackend) {
  const ImageSet train_set = random_images(256, 7), test_set = random_images(96, 8);
  struct Variant { const char* kernels; const char* pooling; bool graph; };
  for (const Variant v : {Variant{"fused", "fused", false}, Variant{"fused", "cudnn", false},
                          Variant{"classic", "cudnn", false}, Variant{"fused", "fused", true}}) {
    const std::string name = std::string(v.kernels) + "/" + v.pooling + (v.graph ? "/graph" : "");
    BackendOptions options = options_with(v.graph, v.kernels, v.pooling);
    // Pinned, as cuda_backend_test's comparisons are: a benchmarked FFT or Winograd choice flips
    // pooling winners beyond any tolerance derived for direct sums (backend_inputs.h).
    options.conv_algorithms = direct_sum_algorithms();
    const auto gpu = cuda::make_cuda_backend(0, options);
    const auto cpu = make_cpu_backend(options);
    for (Backend* backend : {gpu.get(), cpu.get()}) {
      backend->attach_data(train_set, test_set);
      backend->set_state(initial_model_state(42));
      backend->set_order(Split::kTrain, shuffled(train_set.count, 3));
      backend->set_order(Split::kTest, shuffled(test_set.count, 4));
      backend->train_step(0, 64);
    }
    // One step from the same start: the bounds of cuda_backend_test's OneTrainingStep
    // (one_step_tolerance.h).
    const ModelState g = gpu->state(), c = cpu->state();
    EXPECT_TRUE(one_step_close(g, c, initial_model_state(42), 64, options.optimizer.learning_rate)) << name;
    EXPECT_EQ(gpu->take_totals(PassKind::kTraining).correct, cpu->take_totals(PassKind::kTraining).correct) << name;
    // Evaluation and feature maps, from the updated (identical up to those bounds) weights.
    gpu->set_state(c);
    std::vector<float> gpu_probabilities(64 * 10), cpu_probabilities(64 * 10);
    gpu->evaluate_batch(Split::kTest, 0, 64, gpu_probabilities.data());
    cpu->evaluate_batch(Split::kTest, 0, 64, cpu_probabilities.data());
    EXPECT_TRUE(all_close(gpu_probabilities, cpu_probabilities, 1e-4, 1e-6)) << name;
    gpu->evaluate_batch(Split::kTest, 64, 32);
    cpu->evaluate_batch(Split::kTest, 64, 32);
    const PassTotals gt = gpu->take_totals(PassKind::kEvaluation), ct = cpu->take_totals(PassKind::kEvaluation);
    EXPECT_EQ(gt.samples, 96) << name;
    EXPECT_EQ(gt.correct, ct.correct) << name;
    EXPECT_NEAR(gt.sample_loss_sum, ct.sample_loss_sum, 1e-4 * ct.sample_loss_sum) << name;
    const ImageActivations ga = gpu->activations(Split::kTest, 17), ca = cpu->activations(Split::kTest, 17);
    EXPECT_TRUE(all_close(ga.conv_relu, ca.conv_relu, 1e-5, 1e-6)) << name;
    EXPECT_TRUE(all_close(ga.probabilities, ca.probabilities, 1e-4, 1e-6)) << name;
  }
}

TEST_F(GraphBackendTest, LargeBatchesSpreadTheSoftmaxAndStillMatchTheCpu) {
  const ImageSet train_set = random_images(1200, 9), test_set = random_images(1000, 10);
  BackendOptions options = options_with(false, "fused", "fused", 1000);
  options.conv_algorithms = direct_sum_algorithms();
  const auto gpu = cuda::make_cuda_backend(0, options);
  const auto cpu = make_cpu_backend(options);
  for (Backend* backend : {gpu.get(), cpu.get()}) {
    backend->attach_data(train_set, test_set);
    backend->set_state(initial_model_state(11));
    backend->set_order(Split::kTest, shuffled(test_set.count, 12));
    backend->evaluate_batch(Split::kTest, 0, 1000);
  }
  const PassTotals g = gpu->take_totals(PassKind::kEvaluation), c = cpu->take_totals(PassKind::kEvaluation);
  EXPECT_EQ(g.samples, 1000);
  EXPECT_EQ(g.correct, c.correct);
  EXPECT_EQ(g.confusion, c.confusion);
  EXPECT_NEAR(g.sample_loss_sum, c.sample_loss_sum, 1e-4 * c.sample_loss_sum);
}

TEST_F(GraphBackendTest, FusedKernelsLaunchFewerKernelsPerStep) {
  const ImageSet train_set = random_images(128, 13), test_set = random_images(64, 14);
  int kernels[2] = {0, 0};
  for (int fused = 0; fused < 2; ++fused) {
    // A fresh backend, as `train_gpu bench` and ctest's one-test processes meet it: no step has
    // run, so the libraries' first-use setup happens in execution_report's own eager step.
    const auto backend = cuda::make_cuda_backend(0, options_with(false, fused ? "fused" : "classic", "fused"));
    backend->attach_data(train_set, test_set);
    backend->set_state(initial_model_state(15));
    backend->set_order(Split::kTrain, shuffled(train_set.count, 15));
    const ExecutionReport report = backend->execution_report(64);
    kernels[fused] = report.kernels_per_step;
    EXPECT_EQ(report.kernels, fused ? "fused" : "classic");
    // That step was undone: the state and the totals are the ones set.
    const ModelState after = backend->state();
    EXPECT_EQ(after.step, 0);
    EXPECT_TRUE(cuda::testing::bitwise_equal(after.parameters, initial_model_state(15).parameters));
    EXPECT_EQ(backend->take_totals(PassKind::kTraining).samples, 0);
  }
  EXPECT_GT(kernels[0], 0);
  EXPECT_LT(kernels[1], kernels[0]) << "classic " << kernels[0] << ", fused " << kernels[1];
}

TEST_F(GraphBackendTest, ThePinnedLoaderKeepsEagerLaunchesAndSaysWhy) {
  const ImageSet train_set = random_images(128, 16), test_set = random_images(64, 17);
  BackendOptions options = options_with(true, "classic", "fused");
  options.loader = "pinned";
  const auto backend = cuda::make_cuda_backend(0, options);
  backend->attach_data(train_set, test_set);
  backend->set_state(initial_model_state(18));
  backend->set_order(Split::kTrain, shuffled(train_set.count, 19));
  backend->train_step(0, 64);
  backend->train_step(64, 64);
  EXPECT_EQ(backend->state().step, 2);
  const ExecutionReport report = backend->execution_report(64);
  EXPECT_EQ(report.launch.rfind("eager (", 0), 0u) << report.launch;
  EXPECT_NE(report.launch.find("--loader device"), std::string::npos) << report.launch;
}

TEST_F(GraphBackendTest, ProfileStepsBracketTheRangeWithoutDisturbingTraining) {
  // Without a profiler attached cudaProfilerStart/Stop are no-ops that must still succeed.
  const ImageSet train_set = random_images(256, 20), test_set = random_images(64, 21);
  BackendOptions options = options_with(true, "fused", "fused");
  options.profile_first_step = 2;
  options.profile_last_step = 3;
  const auto backend = cuda::make_cuda_backend(0, options);
  backend->attach_data(train_set, test_set);
  backend->set_state(initial_model_state(22));
  backend->set_order(Split::kTrain, shuffled(train_set.count, 23));
  for (int64_t first = 0; first < 256; first += 64) backend->train_step(first, 64);
  EXPECT_EQ(backend->take_totals(PassKind::kTraining).batches, 4);
}

}  // namespace
}  // namespace train_gpu
