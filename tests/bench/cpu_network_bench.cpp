// Where a training step of a spec-driven CPU network goes: Keras's "Simple MNIST convnet"
// (tools/bench/models/simple_mnist_convnet.json, the same layers as tests/support/example_specs.h)
// at batch 128, each stage (a layer, or a fused pair) forward and backward on its own over
// seeded inputs, and the whole network's forward + backward. The optimizer and the loss are left
// out: they are the tutorial's and cpu_backend_bench times them. Every row twice: the
// convolutions by direct sums ("direct/") and with Winograd where oneDNN has it ("winograd/",
// the CLI's default). Built with `cmake --build <build> --target cpu_network_bench`, run as
//
//   <build>/tests/cpu_network_bench --benchmark_repetitions=20 --benchmark_report_aggregates_only=true
//
// On a shared machine read the "_min" rows: the fastest of the repetitions is the one least
// disturbed by other processes. Threads: every core (OMP_NUM_THREADS overrides).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/cpu/cpu_network.h"
#include "host/model/cpu_threads.h"
#include "host/model/initializer.h"
#include "tests/support/example_specs.h"

namespace {

using namespace train_gpu;

constexpr int kBatch = 128;
constexpr uint64_t kSeed = 7;

std::vector<float> random_values(int64_t count, uint64_t seed, float scale) {
  std::vector<float> values(static_cast<std::size_t>(count));
  Rng rng(seed);
  for (float& value : values) value = scale * (rng.uniform01() - 0.5f);
  return values;
}

// One stage of the network with arrays of its own: input, output, doutput, dinput, gradients.
struct StageFixture {
  StageFixture(const model::NetworkSpec& spec, const cpu::CpuNetwork& network, int first, int last)
      : layer(network.layer(first)),
        parameters(initial_model_state(spec, kSeed).parameters),
        buffers(initial_model_state(spec, kSeed).buffers),
        gradients(parameters.size()),
        input(random_values(kBatch * spec.layers[std::size_t(first)].input.size(), 1, 2.0f)),
        output(std::size_t(kBatch) * std::size_t(spec.layers[std::size_t(last)].output.size())),
        doutput(random_values(kBatch * spec.layers[std::size_t(last)].output.size(), 2, 1e-3f)),
        dinput(input.size()) {
    for (int i = 0; i < first; ++i) need_dinput |= spec.layers[std::size_t(i)].parameter_tensors > 0;
  }

  cpu::LayerForward forward_args() {
    cpu::LayerForward args;
    args.count = kBatch;
    args.input = input.data();
    args.output = output.data();
    args.parameters = parameters.data();
    args.buffers = buffers.data();
    args.training = true;
    args.seed = kSeed;
    args.step = 1;
    return args;
  }

  cpu::LayerBackward backward_args() {
    cpu::LayerBackward args;
    args.count = kBatch;
    args.input = input.data();
    args.output = output.data();
    args.doutput = doutput.data();
    args.dinput = dinput.data();
    args.need_dinput = need_dinput;
    args.parameters = parameters.data();
    args.gradients = gradients.data();
    return args;
  }

  cpu::CpuLayer* layer;
  std::vector<float> parameters, buffers, gradients, input, output, doutput, dinput;
  bool need_dinput = false;
};

// The "_min" row of --benchmark_repetitions.
double fastest(const std::vector<double>& times) { return *std::min_element(times.begin(), times.end()); }

void register_benchmarks(const model::NetworkSpec& spec, bool winograd) {
  // The networks own the stages' layer objects; the fixtures borrow them (a deque never moves them).
  static std::deque<cpu::CpuNetwork> networks;
  cpu::CpuNetwork& network = networks.emplace_back(spec, kBatch, cpu::CpuNetworkOptions{winograd});
  const std::string algorithm = winograd ? "winograd/" : "direct/";
  const int layers = int(spec.layers.size());
  for (int first = 0; first < layers;) {
    const int last = network.fused(first) ? first + 1 : first;
    if (network.layer(first) != nullptr) {
      std::string name = algorithm + std::to_string(first + 1) + "_" + model::kind_name(spec.layers[std::size_t(first)].kind);
      if (last > first) name += "+" + model::kind_name(spec.layers[std::size_t(last)].kind);
      benchmark::RegisterBenchmark((name + "/forward").c_str(), [&spec, &network, first, last](benchmark::State& state) {
        StageFixture stage(spec, network, first, last);
        for (auto _ : state) stage.layer->forward(stage.forward_args());
      })->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", fastest);
      benchmark::RegisterBenchmark((name + "/backward").c_str(), [&spec, &network, first, last](benchmark::State& state) {
        StageFixture stage(spec, network, first, last);
        stage.layer->forward(stage.forward_args());  // what backward reads: pooling's winners, dropout's mask
        for (auto _ : state) stage.layer->backward(stage.backward_args());
      })->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", fastest);
    }
    first = last + 1;
  }
  benchmark::RegisterBenchmark((algorithm + "network/forward+backward").c_str(), [&spec, &network](benchmark::State& state) {
    const ModelState model_state = initial_model_state(spec, kSeed);
    std::vector<float> buffers = model_state.buffers, gradients(model_state.parameters.size());
    const std::vector<float> images = random_values(kBatch * spec.input.size(), 3, 2.0f);
    const std::vector<float> dlogits = random_values(kBatch * spec.classes(), 4, 1.0f / kBatch);
    cpu::CpuNetwork::Pass pass;
    pass.training = true;
    pass.seed = kSeed;
    for (auto _ : state) {
      std::copy(images.begin(), images.end(), network.images());
      network.forward(model_state.parameters.data(), buffers.data(), kBatch, pass);
      std::copy(dlogits.begin(), dlogits.end(), network.dlogits());
      network.backward(model_state.parameters.data(), kBatch, gradients.data());
    }
  })->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", fastest);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // As a training step runs: the default thread count, denormals flushed.
  cpu::ComputeScope scope(0, true);
  static const model::NetworkSpec spec = testing::simple_mnist_convnet();
  // Both convolution algorithms the CLI offers (--winograd, the default, and --no-winograd).
  register_benchmarks(spec, false);
  register_benchmarks(spec, true);
  benchmark::AddCustomContext("threads", std::to_string(cpu::thread_count()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
