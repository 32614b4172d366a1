#include "cuda/network/dense_layer.h"

#include "cuda/kernels/bias_activation.h"
#include "cuda/layers/dense.h"
#include "cuda/network/activation_layer.h"
#include "host/common/error.h"

namespace train_gpu::cuda {

DenseLayer::DenseLayer(const model::NetworkSpec& spec, int layer_index, cublasHandle_t cublas) : cublas_(cublas) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  if (layer.kind != model::LayerKind::kDense || !layer.input.flat()) {
    throw Error("cuda DenseLayer: layer " + layer.name + " is not a Dense layer on a flat input");
  }
  in_features_ = layer.input.channels;
  units_ = layer.units;
  activation_ = layer.activation;
  weight_offset_ = spec.parameter_offset(layer, 0);
  bias_offset_ = spec.bias_offset(layer);
}

void DenseLayer::use_epilogues(const LayerFusion& fusion, EpilogueDense& epilogues, DenseLayer* previous,
                               int max_batch) {
  if (fusion.epilogue_input_relu && (previous == nullptr || previous->activation_ != model::Activation::kRelu)) {
    throw Error("cuda DenseLayer: the input-gradient epilogue needs the Dense relu layer before it");
  }
  fusion_ = fusion;
  epilogues_ = &epilogues;
  previous_ = fusion.epilogue_input_relu ? previous : nullptr;
  if (previous_ != nullptr) previous_->next_ = this;
  if (fusion.epilogue_forward && activation_ == model::Activation::kRelu) {
    relu_mask_ = DeviceBuffer<uint8_t>(dense_relu_mask_bytes(max_batch, units_), "a Dense layer's ReLU mask");
  }
}

bool DenseLayer::epilogue_forward(int count) const {
  const DenseEpilogue epilogue =
      activation_ == model::Activation::kRelu ? DenseEpilogue::kForwardBiasRelu : DenseEpilogue::kForwardBias;
  return fusion_.epilogue_forward && epilogues_->supports(epilogue, count, in_features_, units_);
}

bool DenseLayer::epilogue_weight_bias(int count) const {
  return fusion_.epilogue_weight_bias &&
         epilogues_->supports(DenseEpilogue::kBackwardWeightBias, count, in_features_, units_);
}

// All or nothing with the previous layer's forward: the mask read here is the one it wrote.
bool DenseLayer::epilogue_input_relu(int count) const {
  return fusion_.epilogue_input_relu && previous_->epilogue_forward(count) &&
         epilogues_->supports(DenseEpilogue::kBackwardInputRelu, count, in_features_, units_);
}

void DenseLayer::forward(const LayerForward& args) {
  const float* weight = args.parameters + weight_offset_;
  if (epilogue_forward(args.count)) {
    // Y = relu(X · W^T + b) with its mask, or Y = X · W^T + b: one cuBLASLt call
    const float* bias = args.parameters + bias_offset_;
    if (activation_ == model::Activation::kRelu) {
      epilogues_->forward_bias_relu(args.count, in_features_, units_, args.input, weight, bias, args.output,
                                    relu_mask_.data());
    } else {
      epilogues_->forward_bias(args.count, in_features_, units_, args.input, weight, bias, args.output);
    }
    return;
  }
  // Y = f(X · W^T + b): input (count, in) -> output (count, units)
  dense_forward(cublas_, args.input, weight, args.count, in_features_, units_, args.output);
  if (bias_offset_ >= 0) {
    launch_bias_activation(args.output, args.parameters + bias_offset_, args.count, units_, 1, false, args.stream);
  }
  launch_activation_forward(activation_, args.output, std::size_t(args.count) * std::size_t(units_), args.stream);
}

void DenseLayer::backward(const LayerBackward& args) {
  // dZ = f'(Z) ⊙ dY (in place), dW = dZ^T · X, db = column sums of dZ, dX = dZ · W. When the next
  // layer's input-gradient epilogue ran, dY arrives as dZ and db is already written.
  const bool done_by_next = next_ != nullptr && next_->epilogue_input_relu(args.count);
  float* weight_grad = args.gradients + weight_offset_;
  if (!done_by_next) {
    launch_activation_backward(activation_, args.output, args.doutput, std::size_t(args.count) * std::size_t(units_),
                               args.stream);
  }
  if (!done_by_next && epilogue_weight_bias(args.count)) {
    epilogues_->backward_weight_bias(args.count, in_features_, units_, args.input, args.doutput, weight_grad,
                                     args.gradients + bias_offset_);
  } else {
    dense_backward_weight(cublas_, args.input, args.doutput, args.count, in_features_, units_, weight_grad);
    if (bias_offset_ >= 0 && !done_by_next) {
      launch_channel_sum(args.doutput, args.count, units_, 1, args.gradients + bias_offset_, args.stream);
    }
  }
  if (!args.need_dinput) return;
  if (epilogue_input_relu(args.count)) {
    // dX = relu'(previous) ⊙ (dZ · W), and the previous layer's db = column sums of dX
    epilogues_->backward_input_relu(args.count, in_features_, units_, args.doutput, args.parameters + weight_offset_,
                                    previous_->relu_mask_.data(), args.dinput,
                                    args.gradients + previous_->bias_offset_);
  } else {
    dense_backward_input(cublas_, args.doutput, args.parameters + weight_offset_, args.count, in_features_, units_,
                         args.dinput);
  }
}

}  // namespace train_gpu::cuda
