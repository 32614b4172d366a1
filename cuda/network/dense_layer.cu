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

void DenseLayer::forward(const LayerForward& args) {
  // Y = f(X · W^T + b): input (count, in) -> output (count, units)
  dense_forward(cublas_, args.input, args.parameters + weight_offset_, args.count, in_features_, units_, args.output);
  if (bias_offset_ >= 0) {
    launch_bias_activation(args.output, args.parameters + bias_offset_, args.count, units_, 1, false, args.stream);
  }
  launch_activation_forward(activation_, args.output, std::size_t(args.count) * std::size_t(units_), args.stream);
}

void DenseLayer::backward(const LayerBackward& args) {
  // dZ = f'(Z) ⊙ dY (in place), dW = dZ^T · X, db = column sums of dZ, dX = dZ · W
  launch_activation_backward(activation_, args.output, args.doutput, std::size_t(args.count) * std::size_t(units_),
                             args.stream);
  dense_backward_weight(cublas_, args.input, args.doutput, args.count, in_features_, units_,
                        args.gradients + weight_offset_);
  if (bias_offset_ >= 0) launch_channel_sum(args.doutput, args.count, units_, 1, args.gradients + bias_offset_, args.stream);
  if (args.need_dinput) {
    dense_backward_input(cublas_, args.doutput, args.parameters + weight_offset_, args.count, in_features_, units_,
                         args.dinput);
  }
}

}  // namespace train_gpu::cuda
