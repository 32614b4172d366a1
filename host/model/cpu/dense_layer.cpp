#include "host/model/cpu/dense_layer.h"

#include "host/common/error.h"
#include "host/model/cpu/activation_layer.h"
#include "host/model/cpu_layers.h"

namespace train_gpu::cpu {

DenseLayer::DenseLayer(const model::NetworkSpec& spec, int layer_index) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  if (layer.kind != model::LayerKind::kDense || !layer.input.flat()) {
    throw Error("DenseLayer: layer " + layer.name + " is not a Dense layer on a flat input");
  }
  in_features_ = layer.input.channels;
  units_ = layer.units;
  activation_ = layer.activation;
  weight_offset_ = spec.parameter_offset(layer, 0);
  bias_offset_ = spec.bias_offset(layer);
}

void DenseLayer::forward(const LayerForward& args) {
  dense_forward(args.input, args.count, in_features_, units_, args.parameters + weight_offset_,
                bias_offset_ < 0 ? nullptr : args.parameters + bias_offset_, args.output);
  activation_forward(activation_, args.output, std::size_t(args.count) * std::size_t(units_));
}

void DenseLayer::backward(const LayerBackward& args) {
  activation_backward(activation_, args.output, args.doutput, std::size_t(args.count) * std::size_t(units_));
  dense_backward(args.input, args.doutput, args.count, in_features_, units_, args.parameters + weight_offset_,
                 args.gradients + weight_offset_, bias_offset_ < 0 ? nullptr : args.gradients + bias_offset_,
                 args.need_dinput ? args.dinput : nullptr);
}

}  // namespace train_gpu::cpu
