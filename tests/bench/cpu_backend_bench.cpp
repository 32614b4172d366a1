// Speed of the CPU backend: one training step at batch 64 on seeded random 28x28 images, the
// layers it is made of, and the epoch time that implies (938 steps = ceil(60000 / 64)).
//
//   cmake --build <build> --target cpu_backend_bench && <build>/tests/bench/cpu_backend_bench
//
// Threads: every core (OMP_NUM_THREADS overrides); description() names them and the kernels.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "host/common/random.h"
#include "host/data/image_set.h"
#include "host/model/backend.h"
#include "host/model/cpu_backend.h"
#include "host/model/cpu_conv_pool.h"
#include "host/model/cpu_layers.h"
#include "host/model/initializer.h"

namespace {

using namespace train_gpu;

constexpr int kBatch = 64;
constexpr int64_t kEpochSteps = (60000 + kBatch - 1) / kBatch;  // 938

ImageSet random_images(int64_t count, uint64_t seed) {
  ImageSet set;
  set.count = count;
  set.rows = model::kImageSide;
  set.cols = model::kImageSide;
  set.pixels.resize(std::size_t(count) * model::kImagePixels);
  set.labels.resize(std::size_t(count));
  Rng rng(seed);
  for (auto& pixel : set.pixels) pixel = static_cast<uint8_t>(rng.below(256));
  for (auto& label : set.labels) label = static_cast<uint8_t>(rng.below(model::kClasses));
  return set;
}

void BM_TrainStep(benchmark::State& state) {
  const ImageSet train = random_images(4096, 1), test = random_images(kBatch, 2);
  BackendOptions options;
  options.max_batch = kBatch;
  auto backend = make_cpu_backend(options);
  backend->attach_data(train, test);
  backend->set_state(initial_model_state(7));
  std::vector<int32_t> order(std::size_t(train.count));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  backend->set_order(Split::kTrain, order);
  state.SetLabel(backend->description());
  int64_t first = 0;
  for (auto _ : state) {
    backend->train_step(first, kBatch);
    first = (first + kBatch) % (train.count - kBatch + 1);
  }
  const PassTotals totals = backend->take_totals(PassKind::kTraining);
  benchmark::DoNotOptimize(totals.batch_loss_sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
  // Seconds per epoch implied by the mean step time: a rate of (iterations / 938) per second,
  // inverted, is 938 * seconds / iterations.
  state.counters["epoch_s"] = benchmark::Counter(double(state.iterations()) / double(kEpochSteps),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TrainStep)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

void BM_EvaluateBatch(benchmark::State& state) {
  const ImageSet train = random_images(kBatch, 1), test = random_images(kBatch, 2);
  BackendOptions options;
  options.max_batch = kBatch;
  auto backend = make_cpu_backend(options);
  backend->attach_data(train, test);
  backend->set_state(initial_model_state(7));
  std::vector<int32_t> order(kBatch);
  for (int i = 0; i < kBatch; ++i) order[std::size_t(i)] = i;
  backend->set_order(Split::kTest, order);
  for (auto _ : state) backend->evaluate_batch(Split::kTest, 0, kBatch);
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_EvaluateBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

// The pieces of a step, to see where the time goes.
struct LayerFixture {
  LayerFixture() : workspace(kBatch), parameters(initial_model_state(7).parameters), gradients(parameters.size()) {
    Rng rng(3);
    for (auto& x : workspace.images) x = rng.uniform01();
    cpu::network_forward(parameters.data(), kBatch, workspace);
    for (auto& g : workspace.dlogits) g = (rng.uniform01() - 0.5f) / kBatch;
  }
  cpu::NetworkWorkspace workspace;
  std::vector<float> parameters, gradients;
};

void BM_ConvReluPoolForward(benchmark::State& state) {
  LayerFixture f;
  for (auto _ : state) {
    cpu::conv_relu_pool_forward(f.workspace.images.data(), kBatch, f.parameters.data() + model::kConvWeightOffset,
                                f.parameters.data() + model::kConvBiasOffset, f.workspace.pooled.data(),
                                f.workspace.pool_argmax.data());
  }
  state.SetLabel(cpu::conv_pool_isa());
}
BENCHMARK(BM_ConvReluPoolForward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ConvReluPoolBackward(benchmark::State& state) {
  LayerFixture f;
  for (auto _ : state) {
    cpu::conv_relu_pool_backward_params(f.workspace.images.data(), f.workspace.dpooled.data(),
                                        f.workspace.pool_argmax.data(), kBatch, f.workspace.conv_gradients.data(),
                                        f.gradients.data() + model::kConvWeightOffset,
                                        f.gradients.data() + model::kConvBiasOffset);
  }
  state.SetLabel(cpu::conv_pool_isa());
}
BENCHMARK(BM_ConvReluPoolBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Fc1Forward(benchmark::State& state) {
  LayerFixture f;
  for (auto _ : state) {
    cpu::dense_forward(f.workspace.pooled.data(), kBatch, model::kFlatFeatures, model::kHidden,
                       f.parameters.data() + model::kFc1WeightOffset, f.parameters.data() + model::kFc1BiasOffset,
                       f.workspace.hidden.data());
  }
}
BENCHMARK(BM_Fc1Forward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Fc1Backward(benchmark::State& state) {
  LayerFixture f;
  for (auto _ : state) {
    cpu::dense_backward(f.workspace.pooled.data(), f.workspace.hidden.data(), kBatch, model::kFlatFeatures,
                        model::kHidden, f.parameters.data() + model::kFc1WeightOffset,
                        f.gradients.data() + model::kFc1WeightOffset, f.gradients.data() + model::kFc1BiasOffset,
                        f.workspace.dpooled.data());
  }
}
BENCHMARK(BM_Fc1Backward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FullForwardBackward(benchmark::State& state) {
  LayerFixture f;
  for (auto _ : state) {
    cpu::network_forward(f.parameters.data(), kBatch, f.workspace);
    cpu::network_backward(f.parameters.data(), kBatch, f.workspace, f.gradients.data());
  }
}
BENCHMARK(BM_FullForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
