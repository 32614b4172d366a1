// --graph for spec models (cuda/network/network_backend.cu): graph replays give the eager
// launches' bits on the three specs of gpu/spec_backend_inputs.h (Dropout and BatchNorm among
// them) through every step shape (groups of steps, single steps, the partial last batch,
// evaluation batches), with other optimizers and a schedule read from the device counters, a
// resume in the middle of an epoch, held steps released before anything reads them; Dropout reads
// its step from the device counter as a replay does; the kernels-per-step count bench reports;
// graphs off where they must be; the same bits with --kernels fused, and fewer kernels per step.
// The tutorial's graphs: graph_backend_test.cpp. Skipped where no
// CUDA device answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/handles.h"
#include "cuda/math/step_counters.h"
#include "gpu/backend_inputs.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/dropout_masks.h"
#include "gpu/spec_backend_inputs.h"
#include "host/model/initializer.h"
#include "support/example_specs.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

using cuda::testing::bitwise_equal;
using cuda::testing::NamedSpec;
using cuda::testing::options_for;
using cuda::testing::random_image_set;
using cuda::testing::shuffled;
using cuda::testing::specs;

class NetworkGraphTest : public cuda::testing::CudaTest {};

// 72 training samples in batches of 16 (4 full, one of 8) and 40 test samples (16, 16, 8): every
// step shape, with 2-step graphs (groups of two, a held single step, the short last batch).
constexpr int64_t kTrainSamples = 72;
constexpr int64_t kTestSamples = 40;
constexpr int kBatch = 16;

BackendOptions graph_options(const model::NetworkSpec& spec, bool graph) {
  BackendOptions options = options_for(spec, kBatch);
  options.graph = graph;
  options.graph_steps = 2;
  options.deterministic = true;  // two instances must choose the same cuDNN algorithms
  return options;
}

struct Trace {
  ModelState state;
  std::vector<PassTotals> passes;
  ExecutionReport report;
};

// Training steps of order[first, end) of the current epoch, in batches of kBatch.
void train_range(Backend& backend, int64_t first, int64_t end) {
  for (; first < end; first += kBatch) backend.train_step(first, int(std::min<int64_t>(kBatch, end - first)));
}

void evaluate_pass(Backend& backend, Trace& trace) {
  backend.set_order(Split::kTest, shuffled(kTestSamples, 20));
  for (int64_t first = 0; first < kTestSamples; first += kBatch) {
    backend.evaluate_batch(Split::kTest, first, int(std::min<int64_t>(kBatch, kTestSamples - first)));
  }
  trace.passes.push_back(backend.take_totals(PassKind::kEvaluation));
}

// `epochs` epochs from the initial state, each a new order, then an evaluation pass.
Trace train(Backend& backend, const model::NetworkSpec& spec, int epochs) {
  Trace trace;
  backend.attach_data(random_image_set(spec, kTrainSamples, 1), random_image_set(spec, kTestSamples, 2));
  backend.set_state(initial_model_state(spec, 42));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    backend.set_order(Split::kTrain, shuffled(kTrainSamples, 10 + uint32_t(epoch)));
    train_range(backend, 0, kTrainSamples);
    trace.passes.push_back(backend.take_totals(PassKind::kTraining));
    evaluate_pass(backend, trace);
  }
  trace.state = backend.state();
  trace.report = backend.execution_report(kBatch);
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

void expect_same_state(const ModelState& graph, const ModelState& eager) {
  EXPECT_EQ(graph.step, eager.step);
  EXPECT_TRUE(bitwise_equal(graph.parameters, eager.parameters));
  EXPECT_TRUE(bitwise_equal(graph.adam_m, eager.adam_m));
  EXPECT_TRUE(bitwise_equal(graph.adam_v, eager.adam_v));
  EXPECT_TRUE(bitwise_equal(graph.buffers, eager.buffers)) << "BatchNormalization's moving statistics";
}

void expect_same_traces(const Trace& graph, const Trace& eager) {
  // Two instances compare only if they chose the same cuDNN algorithms.
  ASSERT_EQ(graph.report.details, eager.report.details);
  expect_same_state(graph.state, eager.state);
  ASSERT_EQ(graph.passes.size(), eager.passes.size());
  for (std::size_t pass = 0; pass < graph.passes.size(); ++pass) expect_same_totals(graph.passes[pass], eager.passes[pass], pass);
}

TEST_F(NetworkGraphTest, GraphReplaysGiveTheEagerLaunchesBits) {
  // Same kernels, same arguments (the batch position, the step size and Dropout's step read from
  // the device instead of passed): the same results to the bit, moving statistics included.
  for (const NamedSpec& named : specs()) {
    SCOPED_TRACE(named.name);
    const auto eager_backend = cuda::make_network_backend(0, graph_options(named.spec, false));
    const auto graph_backend = cuda::make_network_backend(0, graph_options(named.spec, true));
    const Trace eager = train(*eager_backend, named.spec, 3);
    const Trace graph = train(*graph_backend, named.spec, 3);
    EXPECT_EQ(eager.report.launch, "eager");
    EXPECT_EQ(graph.report.launch, "graph (2 steps per replay)");
    EXPECT_EQ(graph.state.step, 3 * 5);
    EXPECT_EQ(graph.passes[0].samples, kTrainSamples);
    EXPECT_EQ(graph.passes[1].samples, kTestSamples);
    expect_same_traces(graph, eager);
  }
}

TEST_F(NetworkGraphTest, GraphReplaysGiveTheEagerLaunchesBitsWithTheFusedKernels) {
  // cuBLASLt's epilogue GEMMs and the bias + ReLU + pooling kernels are captured like the rest;
  // the bias-gradient epilogues and the pooling's multi-block bias sums are deterministic, so a
  // replay repeats the eager bits (two instances pick the same cuBLASLt algorithms: the
  // heuristic is a function of the GPU, library and shape).
  for (const NamedSpec& named : cuda::testing::fused_specs()) {
    SCOPED_TRACE(named.name);
    BackendOptions eager_options = graph_options(named.spec, false);
    BackendOptions graph_options_fused = graph_options(named.spec, true);
    eager_options.kernels = graph_options_fused.kernels = "fused";
    const auto eager_backend = cuda::make_network_backend(0, eager_options);
    const auto graph_backend = cuda::make_network_backend(0, graph_options_fused);
    const Trace eager = train(*eager_backend, named.spec, 2);
    const Trace graph = train(*graph_backend, named.spec, 2);
    EXPECT_EQ(graph.report.launch, "graph (2 steps per replay)");
    EXPECT_EQ(graph.report.kernels, "fused");
    expect_same_traces(graph, eager);
  }
}

TEST_F(NetworkGraphTest, TheFusedKernelsLaunchFewerKernelsPerStep) {
  // Each spec fuses at least one Dense (bias add and bias-gradient sum gone) and the first two a
  // convolution pair (bias + ReLU and its gradient pass gone): fewer nodes in a captured step.
  for (const NamedSpec& named : cuda::testing::fused_specs()) {
    SCOPED_TRACE(named.name);
    int counted[2] = {0, 0};
    for (const bool fused : {false, true}) {
      BackendOptions options = graph_options(named.spec, false);
      options.kernels = fused ? "fused" : "classic";
      const auto backend = cuda::make_network_backend(0, options);
      backend->attach_data(random_image_set(named.spec, kTrainSamples, 8), random_image_set(named.spec, kTestSamples, 9));
      backend->set_state(initial_model_state(named.spec, 15));
      backend->set_order(Split::kTrain, shuffled(kTrainSamples, 15));
      counted[fused ? 1 : 0] = backend->execution_report(kBatch).kernels_per_step;
    }
    EXPECT_GT(counted[1], 0);
    EXPECT_LT(counted[1], counted[0]) << "fused " << counted[1] << ", classic " << counted[0];
  }
}

TEST_F(NetworkGraphTest, OtherOptimizersClippingSmoothingAndASchedulePlayBackBitwise) {
  // SGD with momentum and RMSprop read the scheduled learning rate from the device counters,
  // which the loss kernel computes per step (lr_schedule_math.h: exponential decay is
  // bit-identical on host and device); --clip-norm and --label-smoothing ride along.
  const model::NetworkSpec spec = cuda::testing::activations_spec();
  for (const OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kRmsprop, OptimizerKind::kAdamW}) {
    SCOPED_TRACE(int(kind));
    Trace traces[2];
    for (const bool graph : {false, true}) {
      BackendOptions options = graph_options(spec, graph);
      options.optimizer.kind = kind;
      options.optimizer.learning_rate = 0.01f;
      options.optimizer.momentum = 0.9f;
      options.clip_norm = 0.5f;
      options.label_smoothing = 0.1f;
      const auto backend = cuda::make_network_backend(0, options);
      LrSchedule schedule;
      schedule.kind = LrScheduleKind::kExponential;
      schedule.steps_per_epoch = 5;
      schedule.gamma = 0.5f;
      backend->set_learning_rate_schedule(schedule, 0.75f);
      traces[graph ? 1 : 0] = train(*backend, spec, 2);
    }
    EXPECT_EQ(traces[1].report.launch, "graph (2 steps per replay)");
    expect_same_traces(traces[1], traces[0]);
  }
}

TEST_F(NetworkGraphTest, AResumeInTheMiddleOfAnEpochContinuesBitwise) {
  // Uninterrupted (eager) against: a graph run stopped after 3 of the epoch's 5 steps, its state
  // taken into a new graph backend that goes on from sample 48 (not where a fresh device cursor
  // stands) with the same order. Dropout's masks are keyed on the step, which travels in the state.
  const model::NetworkSpec spec = testing::cifar_shaped(8);
  const auto uninterrupted = cuda::make_network_backend(0, graph_options(spec, false));
  const Trace whole = train(*uninterrupted, spec, 1);

  const ImageSet train_set = random_image_set(spec, kTrainSamples, 1), test_set = random_image_set(spec, kTestSamples, 2);
  ModelState middle;
  PassTotals first_part;
  {
    const auto first = cuda::make_network_backend(0, graph_options(spec, true));
    first->attach_data(train_set, test_set);
    first->set_state(initial_model_state(spec, 42));
    first->set_order(Split::kTrain, shuffled(kTrainSamples, 10));
    train_range(*first, 0, 48);
    first_part = first->take_totals(PassKind::kTraining);
    middle = first->state();
  }
  EXPECT_EQ(middle.step, 3);
  const auto second = cuda::make_network_backend(0, graph_options(spec, true));
  second->attach_data(train_set, test_set);
  second->set_state(middle);
  second->set_order(Split::kTrain, shuffled(kTrainSamples, 10));
  train_range(*second, 48, kTrainSamples);
  const PassTotals second_part = second->take_totals(PassKind::kTraining);
  Trace resumed;
  evaluate_pass(*second, resumed);
  resumed.state = second->state();
  EXPECT_EQ(second->execution_report(kBatch).launch, "graph (2 steps per replay)");

  expect_same_state(resumed.state, whole.state);
  EXPECT_EQ(first_part.samples + second_part.samples, kTrainSamples);
  EXPECT_EQ(first_part.batches + second_part.batches, 5);
  expect_same_totals(resumed.passes[0], whole.passes[1], 1);  // the evaluation after the epoch
}

TEST_F(NetworkGraphTest, HeldStepsAreAppliedBeforeAnythingReadsTheResults) {
  // Graphs of 2 steps hold an odd step back; state(), the totals, an evaluation with
  // probabilities (eager, it reads back) and activations must release it first.
  const model::NetworkSpec spec = testing::simple_mnist_convnet();
  const auto graph = cuda::make_network_backend(0, graph_options(spec, true));
  const auto eager = cuda::make_network_backend(0, graph_options(spec, false));
  for (Backend* backend : {graph.get(), eager.get()}) {
    backend->attach_data(random_image_set(spec, kTrainSamples, 3), random_image_set(spec, kTestSamples, 4));
    backend->set_state(initial_model_state(spec, 5));
    backend->set_order(Split::kTrain, shuffled(kTrainSamples, 6));
    backend->set_order(Split::kTest, shuffled(kTestSamples, 7));
    train_range(*backend, 0, 48);  // 3 steps: one group of two, one held
  }
  EXPECT_EQ(graph->peek_totals(PassKind::kTraining).batches, 3);
  std::vector<float> graph_probabilities(kBatch * 10), eager_probabilities(kBatch * 10);
  graph->train_step(48, kBatch);  // held again
  eager->train_step(48, kBatch);
  graph->evaluate_batch(Split::kTest, 0, kBatch, graph_probabilities.data());
  eager->evaluate_batch(Split::kTest, 0, kBatch, eager_probabilities.data());
  EXPECT_TRUE(bitwise_equal(graph_probabilities, eager_probabilities));
  graph->train_step(64, 8);
  eager->train_step(64, 8);
  EXPECT_TRUE(bitwise_equal(graph->activations(Split::kTest, 3).probabilities, eager->activations(Split::kTest, 3).probabilities));
  expect_same_state(graph->state(), eager->state());
  EXPECT_EQ(graph->state().step, 5);
}

TEST_F(NetworkGraphTest, DropoutReadsItsStepFromTheDeviceCounterAsAReplayDoes) {
  // During a replayed forward pass the device's step counter holds t - 1 (the loss kernel
  // advances it afterwards): the layer must draw step t's mask, the CPU layer's at t.
  const model::NetworkSpec spec = testing::simple_mnist_convnet();
  const int layer = cuda::testing::dropout_layer_of(spec);
  ASSERT_GE(layer, 0);
  const cuda::DeviceBuffer<int64_t> steps_taken = cuda::testing::upload(std::vector<int64_t>{40});
  const std::vector<uint8_t> gpu_mask =
      cuda::testing::gpu_dropout_mask(spec, layer, 3, math::per_step_on_device(steps_taken.data()), 0, 4);
  EXPECT_EQ(gpu_mask, cuda::testing::cpu_dropout_mask(spec, layer, 3, 41, 0, 4)) << "step t = steps taken + 1";
  EXPECT_NE(gpu_mask, cuda::testing::cpu_dropout_mask(spec, layer, 3, 40, 0, 4)) << "the counter itself is t - 1";
}

TEST_F(NetworkGraphTest, TheKernelCountOfAStepIsTheCapturedGraphsAndLeavesNoTrace) {
  // A fresh backend (as bench meets it, before any step): execution_report captures one step to
  // count its kernels, after running it once with everything it changes put back.
  const model::NetworkSpec spec = testing::cifar_shaped(8);
  int counted[2] = {0, 0};
  for (const bool graph : {false, true}) {
    const auto backend = cuda::make_network_backend(0, graph_options(spec, graph));
    backend->attach_data(random_image_set(spec, kTrainSamples, 8), random_image_set(spec, kTestSamples, 9));
    ModelState start = initial_model_state(spec, 15);
    for (std::size_t i = 0; i < start.buffers.size(); ++i) start.buffers[i] = 0.5f + 0.01f * float(i % 13);
    backend->set_state(start);
    backend->set_order(Split::kTrain, shuffled(kTrainSamples, 15));
    const ExecutionReport report = backend->execution_report(kBatch);
    counted[graph ? 1 : 0] = report.kernels_per_step;
    const ModelState after = backend->state();
    EXPECT_EQ(after.step, 0);
    EXPECT_TRUE(bitwise_equal(after.parameters, start.parameters));
    EXPECT_TRUE(bitwise_equal(after.buffers, start.buffers)) << "the counting step's moving statistics";
    const PassTotals totals = backend->take_totals(PassKind::kTraining);
    EXPECT_EQ(totals.samples, 0);
    EXPECT_EQ(totals.confusion, std::vector<int64_t>(totals.confusion.size(), 0));
    if (!graph) continue;
    // After real steps: the count of the graph the backend captured and replays.
    train_range(*backend, 0, kTrainSamples);
    train_range(*backend, 0, kTrainSamples);  // each shape runs eagerly once, then is captured
    EXPECT_EQ(backend->execution_report(kBatch).kernels_per_step, counted[1]);
  }
  // Conv2D, pooling, BatchNorm, Dropout, Dense layers forward and backward, loss and optimizer:
  // far more than a dozen launches.
  EXPECT_GT(counted[0], 12);
  EXPECT_EQ(counted[1], counted[0]);
}

TEST_F(NetworkGraphTest, ThePinnedLoaderKeepsEagerLaunchesAndSaysWhy) {
  const model::NetworkSpec spec = testing::simple_mnist_convnet();
  BackendOptions options = graph_options(spec, true);
  options.loader = "pinned";
  const auto backend = cuda::make_network_backend(0, options);
  backend->attach_data(random_image_set(spec, kTrainSamples, 16), random_image_set(spec, kTestSamples, 17));
  backend->set_state(initial_model_state(spec, 18));
  backend->set_order(Split::kTrain, shuffled(kTrainSamples, 19));
  train_range(*backend, 0, kTrainSamples);
  EXPECT_EQ(backend->state().step, 5);
  const ExecutionReport report = backend->execution_report(kBatch);
  EXPECT_EQ(report.launch.rfind("eager (", 0), 0u) << report.launch;
  EXPECT_NE(report.launch.find("--loader device"), std::string::npos) << report.launch;
  EXPECT_EQ(report.kernels_per_step, 0) << "nothing captured, nothing counted";
}

}  // namespace
}  // namespace train_gpu
