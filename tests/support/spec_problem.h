// One seeded batch for a NetworkSpec, run through the CPU network (float32, oneDNN) and, for
// comparison, through reference_spec_network.h (float64): Glorot weights as training starts from,
// plus small random biases and BatchNormalization gamma/beta (so those paths carry non-trivial
// values), moving statistics away from their initial 0 and 1, images uniform in [0, 1).
#pragma once

#include <cstdint>
#include <vector>

#include "cuda/math/softmax_xent_math.h"
#include "host/common/random.h"
#include "host/model/cpu/cpu_network.h"
#include "host/model/cpu/dropout_layer.h"
#include "host/model/initializer.h"
#include "reference_spec_network.h"

namespace train_gpu::testing {

struct SpecProblem {
  model::NetworkSpec spec;
  int count = 0;
  std::vector<float> parameters, buffers, images;
  std::vector<int> labels;
  uint64_t seed = 0;  // dropout's
  int64_t step = 1;

  std::vector<double> parameters64() const { return {parameters.begin(), parameters.end()}; }
  std::vector<double> buffers64() const { return {buffers.begin(), buffers.end()}; }
  std::vector<double> images64() const { return {images.begin(), images.end()}; }
};

inline SpecProblem make_spec_problem(const model::NetworkSpec& spec, int count, uint64_t seed) {
  SpecProblem problem;
  problem.spec = spec;
  problem.count = count;
  problem.seed = seed;
  const ModelState state = initial_model_state(spec, seed);
  problem.parameters = state.parameters;
  problem.buffers = state.buffers;
  Rng rng(seed + 100);
  for (const model::ArenaTensor& tensor : spec.parameters) {
    const model::LayerSpec& layer = spec.layers[std::size_t(tensor.layer)];
    const bool gamma = layer.kind == model::LayerKind::kBatchNorm && tensor.offset == spec.parameters[std::size_t(layer.first_parameter)].offset;
    if (tensor.shape.size() != 1) continue;
    for (std::size_t i = 0; i < tensor.count; ++i) {
      problem.parameters[tensor.offset + i] = (gamma ? 1.0f : 0.0f) + 0.2f * (rng.uniform01() - 0.5f);
    }
  }
  for (const model::ArenaTensor& tensor : spec.buffers) {
    const bool variance = tensor.name.find("running_var") != std::string::npos;
    for (std::size_t i = 0; i < tensor.count; ++i) problem.buffers[tensor.offset + i] = (variance ? 0.5f : 0.0f) + 0.3f * rng.uniform01();
  }
  problem.images.resize(std::size_t(count) * std::size_t(spec.input.size()));
  for (float& pixel : problem.images) pixel = rng.uniform01();
  for (int n = 0; n < count; ++n) problem.labels.push_back(int(rng.uniform01() * float(spec.classes())) % spec.classes());
  return problem;
}

// The CPU network's forward on the problem's batch (images copied in); buffers updated in
// training, as the backend does. layer_outputs: every layer_output() written (a training step
// leaves some out, as the backend's does).
inline void run_forward(cpu::CpuNetwork& network, SpecProblem& problem, bool training, bool layer_outputs = true) {
  std::copy(problem.images.begin(), problem.images.end(), network.images());
  cpu::CpuNetwork::Pass pass;
  pass.training = training;
  pass.layer_outputs = layer_outputs;
  pass.seed = problem.seed;
  pass.step = problem.step;
  network.forward(problem.parameters.data(), problem.buffers.data(), problem.count, pass);
}

// The float32 gradient of the batch's mean loss, as a training step computes it; `masks`
// receives the dropout masks the step drew, for the reference to apply the same.
inline std::vector<float> float_gradients(SpecProblem problem, reference::DropoutMasks* masks, double* mean_loss,
                                          const cpu::CpuNetworkOptions& options = {}) {
  cpu::CpuNetwork network(problem.spec, problem.count, options);
  run_forward(network, problem, true, false);
  const int classes = problem.spec.classes();
  double loss = 0.0;
  for (int n = 0; n < problem.count; ++n) {
    loss += math::softmax_xent_row(network.logits() + std::size_t(n) * classes, classes, problem.labels[std::size_t(n)],
                                   1.0f / float(problem.count), network.dlogits() + std::size_t(n) * classes)
                .loss;
  }
  if (mean_loss != nullptr) *mean_loss = loss / problem.count;
  for (int i = 0; i < int(problem.spec.layers.size()); ++i) {
    if (problem.spec.layers[std::size_t(i)].kind != model::LayerKind::kDropout) continue;
    const auto* layer = dynamic_cast<const cpu::DropoutLayer*>(network.layer(i));
    const std::size_t size = std::size_t(problem.count) * std::size_t(problem.spec.layers[std::size_t(i)].output.size());
    (*masks)[i] = std::vector<uint8_t>(layer->mask().begin(), layer->mask().begin() + std::ptrdiff_t(size));
  }
  std::vector<float> gradients(problem.spec.parameter_count, std::numeric_limits<float>::quiet_NaN());
  network.backward(problem.parameters.data(), problem.count, gradients.data());
  return gradients;
}

}  // namespace train_gpu::testing
