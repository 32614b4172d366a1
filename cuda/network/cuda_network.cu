#include "cuda/network/cuda_network.h"

#include "cuda/network/activation_layer.h"
#include "cuda/network/batch_norm_layer.h"
#include "cuda/network/dense_layer.h"
#include "cuda/network/dropout_layer.h"
#include "cuda/network/pooling_layer.h"
#include "host/common/error.h"

namespace train_gpu::cuda {

using model::LayerKind;

namespace {

// Each view starts on a 256-byte boundary (64 floats): cuDNN and cuBLAS prefer aligned starts.
constexpr std::size_t kAlignFloats = 64;

std::size_t aligned(std::size_t floats) { return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

}  // namespace

std::unique_ptr<CudaLayer> make_cuda_layer(const model::NetworkSpec& spec, int layer_index, int max_batch,
                                           cudnnHandle_t cudnn, cublasHandle_t cublas, const ConvolutionChoice& choice,
                                           const LayerFusion& fusion) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  switch (layer.kind) {
    case LayerKind::kConv2D: {
      auto conv = std::make_unique<Conv2DLayer>(spec, layer_index, max_batch, cudnn, choice);
      if (fusion.bias_relu_in_pooling) conv->leave_bias_relu_to_pooling();
      return conv;
    }
    case LayerKind::kMaxPool2D:
    case LayerKind::kAvgPool2D: return std::make_unique<PoolingLayer>(spec, layer_index, max_batch, cudnn, fusion);
    case LayerKind::kDense: return std::make_unique<DenseLayer>(spec, layer_index, cublas);
    case LayerKind::kDropout: return std::make_unique<DropoutLayer>(spec, layer_index, max_batch);
    case LayerKind::kBatchNorm: return std::make_unique<BatchNormLayer>(spec, layer_index, cudnn);
    case LayerKind::kActivation: return std::make_unique<ActivationLayer>(layer);
    case LayerKind::kFlatten: return nullptr;
  }
  return nullptr;
}

CudaNetwork::CudaNetwork(const model::NetworkSpec& spec, int max_batch, cudnnHandle_t cudnn, cublasHandle_t cublas,
                         cudaStream_t stream, const ConvolutionChoice& choice, const NetworkKernels& kernels)
    : spec_(spec), max_batch_(max_batch), stream_(stream) {
  if (spec_.layers.empty()) throw Error("cuda network: the model has no layers");
  if (max_batch < 1) throw Error("cuda network: max_batch " + std::to_string(max_batch) + " must be at least 1");
  fusion_ = plan_fusion(spec_, kernels.kernels, kernels.pooling);
  const int count = int(spec_.layers.size());
  bool parameters_before = false;
  DenseLayer* previous_dense = nullptr;
  for (int i = 0; i < count; ++i) {
    const model::LayerSpec& layer = spec_.layers[std::size_t(i)];
    const LayerFusion& fusion = fusion_.layers[std::size_t(i)];
    need_dinput_.push_back(parameters_before);
    parameters_before |= layer.parameter_tensors > 0;
    layers_.push_back(make_cuda_layer(spec_, i, max_batch, cudnn, cublas, choice, fusion));
    auto* dense = dynamic_cast<DenseLayer*>(layers_.back().get());
    if (dense != nullptr && fusion.epilogue_forward) {
      if (!epilogues_) {
        epilogues_ = std::make_unique<EpilogueDense>(stream, kernels.cublas_workspace, kernels.cublas_workspace_bytes,
                                                     kernels.tf32);
      }
      dense->use_epilogues(fusion, *epilogues_, fusion.epilogue_input_relu ? previous_dense : nullptr, max_batch);
    }
    previous_dense = dense;
  }

  // Offsets first, one allocation after: activations_[k] holds layer k-1's output (Flatten's is
  // its input's), and every activation has a gradient array (Flatten's aliases the one after
  // it, so the layer before Flatten reads what the layer after wrote).
  const std::size_t batch = std::size_t(max_batch);
  std::vector<std::ptrdiff_t> activation_at(std::size_t(count) + 1, -1), gradient_at(std::size_t(count) + 1, -1);
  std::size_t floats = 0;
  const auto reserve = [&](int64_t per_image) {
    const std::size_t at = floats;
    floats += aligned(batch * std::size_t(per_image));
    return std::ptrdiff_t(at);
  };
  activation_at[0] = reserve(spec_.input.size());
  gradient_at[0] = reserve(spec_.input.size());
  for (int i = 0; i < count; ++i) {
    const std::size_t k = std::size_t(i) + 1;
    activation_at[k] = layers_[std::size_t(i)] == nullptr ? activation_at[k - 1] : reserve(spec_.layers[std::size_t(i)].output.size());
  }
  for (int i = count - 1; i >= 0; --i) {
    const std::size_t k = std::size_t(i) + 1;
    if (gradient_at[k] < 0) gradient_at[k] = reserve(spec_.layers[std::size_t(i)].output.size());
    if (layers_[std::size_t(i)] == nullptr) gradient_at[k - 1] = gradient_at[k];
  }
  storage_ = DeviceBuffer<float>(floats, "the network's activations and their gradients");
  for (std::size_t k = 0; k <= std::size_t(count); ++k) {
    activations_.push_back(storage_.data() + activation_at[k]);
    gradients_.push_back(storage_.data() + gradient_at[k]);
  }
}

CudaNetwork::~CudaNetwork() = default;

void CudaNetwork::check_count(int count, const char* operation) const {
  if (count < 1 || count > max_batch_) {
    throw Error(std::string("cuda network: ") + operation + " of " + std::to_string(count) +
                " images; it was built for 1.." + std::to_string(max_batch_));
  }
}

void CudaNetwork::forward(const float* parameters, float* buffers, int count, const Pass& pass) {
  check_count(count, "forward");
  LayerForward args;
  args.count = count;
  args.parameters = parameters;
  args.buffers = buffers;
  args.training = pass.training;
  args.seed = pass.seed;
  args.step = pass.step;
  args.first_sample = pass.first_sample;
  args.keep_outputs = pass.keep_outputs;
  args.stream = stream_;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i] == nullptr) continue;
    args.input = activations_[i];
    args.output = activations_[i + 1];
    layers_[i]->forward(args);
  }
}

void CudaNetwork::backward(const float* parameters, int count, float* gradients) {
  check_count(count, "backward");
  LayerBackward args;
  args.count = count;
  args.parameters = parameters;
  args.gradients = gradients;
  args.stream = stream_;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    if (layers_[i] == nullptr) continue;
    args.input = activations_[i];
    args.output = activations_[i + 1];
    args.doutput = gradients_[i + 1];
    args.dinput = gradients_[i];
    args.need_dinput = need_dinput_[i];
    layers_[i]->backward(args);
  }
}

std::string CudaNetwork::describe_convolutions() const {
  std::string text;
  for (const auto& layer : layers_) {
    if (const auto* conv = dynamic_cast<const Conv2DLayer*>(layer.get())) text += (text.empty() ? "" : "; ") + conv->describe();
  }
  return text;
}

std::string CudaNetwork::describe_fusion(int count) const {
  std::string fused, cudnn;
  const auto add = [](std::string& text, const std::string& entry) { text += (text.empty() ? "" : ", ") + entry; };
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerFusion& fusion = fusion_.layers[i];
    const std::string& name = spec_.layers[i].name;
    if (fusion.cudnn_pooling) add(cudnn, name);
    if (fusion.pools_bias_relu) add(fused, spec_.layers[i - 1].name + " bias+relu in " + name);
    const auto* dense = dynamic_cast<const DenseLayer*>(layers_[i].get());
    if (dense == nullptr || !fusion.epilogue_forward) continue;
    std::string parts;
    if (dense->epilogue_forward(count)) parts += "forward";
    if (dense->epilogue_weight_bias(count)) parts += std::string(parts.empty() ? "" : "+") + "weight/bias gradient";
    if (dense->epilogue_input_relu(count)) parts += std::string(parts.empty() ? "" : "+") + "input gradient with relu";
    add(fused, name + " " + (parts.empty() ? std::string("classic (cuBLASLt declined)") : "epilogue " + parts));
  }
  std::string text;
  if (!fused.empty()) text = "fused: " + fused;
  if (!cudnn.empty()) text += (text.empty() ? "" : "; ") + std::string("cuDNN pooling: ") + cudnn;
  return text;
}

ConvolutionAlgorithms CudaNetwork::conv_algorithms() const {
  for (const auto& layer : layers_) {
    if (const auto* conv = dynamic_cast<const Conv2DLayer*>(layer.get())) return conv->algorithms();
  }
  return {};
}

}  // namespace train_gpu::cuda
