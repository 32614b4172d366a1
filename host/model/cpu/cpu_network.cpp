#include "host/model/cpu/cpu_network.h"

#include <string>

#include "host/common/error.h"
#include "host/model/cpu/activation_layer.h"
#include "host/model/cpu/batch_norm_layer.h"
#include "host/model/cpu/conv2d_layer.h"
#include "host/model/cpu/dense_layer.h"
#include "host/model/cpu/dropout_layer.h"
#include "host/model/cpu/fused_conv_pool_layer.h"
#include "host/model/cpu/pooling_layer.h"

namespace train_gpu::cpu {

using model::LayerKind;

// Spec layers [first, last] run by one CpuLayer (two for a fused pair, none for Flatten).
struct CpuNetwork::Stage {
  int first = 0, last = 0;
  std::unique_ptr<CpuLayer> layer;  // null: Flatten, a view
  bool need_dinput = false;         // a layer before `first` has parameters
};

std::unique_ptr<CpuLayer> make_cpu_layer(const model::NetworkSpec& spec, int index, int max_batch,
                                         const CpuNetworkOptions& options) {
  switch (spec.layers[std::size_t(index)].kind) {
    case LayerKind::kConv2D: return std::make_unique<Conv2DLayer>(spec, index, options.winograd);
    case LayerKind::kMaxPool2D:
    case LayerKind::kAvgPool2D: return std::make_unique<PoolingLayer>(spec, index);
    case LayerKind::kDense: return std::make_unique<DenseLayer>(spec, index);
    case LayerKind::kDropout: return std::make_unique<DropoutLayer>(spec, index, max_batch);
    case LayerKind::kBatchNorm: return std::make_unique<BatchNormLayer>(spec, index);
    case LayerKind::kActivation: return std::make_unique<ActivationLayer>(spec.layers[std::size_t(index)]);
    case LayerKind::kFlatten: return nullptr;
  }
  return nullptr;
}

CpuNetwork::CpuNetwork(const model::NetworkSpec& spec, int max_batch, const CpuNetworkOptions& options)
    : spec_(spec), max_batch_(max_batch) {
  if (spec_.layers.empty()) throw Error("cpu network: the model has no layers");
  if (max_batch < 1) throw Error("cpu network: max_batch " + std::to_string(max_batch) + " must be at least 1");
  const int layers = int(spec_.layers.size());
  bool parameters_before = false;
  for (int i = 0; i < layers;) {
    Stage stage;
    stage.first = i;
    stage.need_dinput = parameters_before;
    if (FusedConvPoolLayer::fits(spec_, i)) {
      stage.last = i + 1;
      stage.layer = std::make_unique<FusedConvPoolLayer>(spec_, i, max_batch);
    } else {
      stage.last = i;
      stage.layer = make_cpu_layer(spec_, i, max_batch, options);
    }
    for (int j = stage.first; j <= stage.last; ++j) parameters_before |= spec_.layers[std::size_t(j)].parameter_tensors > 0;
    i = stage.last + 1;
    stages_.push_back(std::move(stage));
  }
  // A pooling right after a oneDNN convolution pools its blocked output (pooling_layer.h).
  for (std::size_t k = 1; k < stages_.size(); ++k) {
    auto* convolution = dynamic_cast<Conv2DLayer*>(stages_[k - 1].layer.get());
    auto* pooling = dynamic_cast<PoolingLayer*>(stages_[k].layer.get());
    if (convolution != nullptr && pooling != nullptr) pooling->read_from(*convolution);
  }

  // activations_[k] holds layer k-1's output: its own array, the previous one's for Flatten, none
  // inside a fused pair. Every activation that has an array gets a gradient array too; Flatten's
  // gradient aliases the one after it, so the layer before Flatten reads what the layer after wrote.
  const auto allocate = [&](int64_t floats_per_image) {
    storage_.emplace_back(std::size_t(max_batch) * std::size_t(floats_per_image), 0.0f);
    return storage_.back().data();
  };
  activations_.assign(std::size_t(layers) + 1, nullptr);
  gradients_.assign(std::size_t(layers) + 1, nullptr);
  activations_[0] = allocate(spec_.input.size());
  gradients_[0] = allocate(spec_.input.size());
  for (const Stage& stage : stages_) {
    const model::LayerSpec& last = spec_.layers[std::size_t(stage.last)];
    float*& output = activations_[std::size_t(stage.last) + 1];
    output = stage.layer == nullptr ? activations_[std::size_t(stage.first)] : allocate(last.output.size());
  }
  for (auto stage = stages_.rbegin(); stage != stages_.rend(); ++stage) {
    float*& doutput = gradients_[std::size_t(stage->last) + 1];
    if (doutput == nullptr) doutput = allocate(spec_.layers[std::size_t(stage->last)].output.size());
    if (stage->layer == nullptr) gradients_[std::size_t(stage->first)] = doutput;
  }
}

CpuNetwork::~CpuNetwork() = default;

bool CpuNetwork::fused(int layer) const {
  for (const Stage& stage : stages_) {
    if (stage.first == layer) return stage.last > stage.first;
  }
  return false;
}

CpuLayer* CpuNetwork::layer(int layer) const {
  for (const Stage& stage : stages_) {
    if (layer >= stage.first && layer <= stage.last) return stage.layer.get();
  }
  return nullptr;
}

void CpuNetwork::check_count(int count, const char* operation) const {
  if (count < 1 || count > max_batch_) {
    throw Error(std::string("cpu network: ") + operation + " of " + std::to_string(count) +
                " images; it was built for 1.." + std::to_string(max_batch_));
  }
}

void CpuNetwork::forward(const float* parameters, float* buffers, int count, const Pass& pass) {
  check_count(count, "forward");
  LayerForward args;
  args.count = count;
  args.parameters = parameters;
  args.buffers = buffers;
  args.training = pass.training;
  args.seed = pass.seed;
  args.step = pass.step;
  args.first_sample = pass.first_sample;
  args.keep_outputs = pass.layer_outputs;
  for (const Stage& stage : stages_) {
    if (stage.layer == nullptr) continue;
    args.input = activations_[std::size_t(stage.first)];
    args.output = activations_[std::size_t(stage.last) + 1];
    args.conv_maps = stage.last > stage.first ? pass.fused_conv_maps : nullptr;
    stage.layer->forward(args);
  }
}

void CpuNetwork::backward(const float* parameters, int count, float* gradients) {
  check_count(count, "backward");
  LayerBackward args;
  args.count = count;
  args.parameters = parameters;
  args.gradients = gradients;
  for (auto stage = stages_.rbegin(); stage != stages_.rend(); ++stage) {
    if (stage->layer == nullptr) continue;
    args.input = activations_[std::size_t(stage->first)];
    args.output = activations_[std::size_t(stage->last) + 1];
    args.doutput = gradients_[std::size_t(stage->last) + 1];
    args.dinput = gradients_[std::size_t(stage->first)];
    args.need_dinput = stage->need_dinput;
    stage->layer->backward(args);
  }
}

}  // namespace train_gpu::cpu
