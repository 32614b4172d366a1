#include "host/model/cpu/fused_conv_pool_layer.h"

#include "host/common/error.h"
#include "host/model/cpu_conv_pool.h"
#include "host/model/cpu_layers.h"

namespace train_gpu::cpu {

namespace {

constexpr int kPool = 2;  // the fused kernels' window: 2x2, stride 2

}  // namespace

bool FusedConvPoolLayer::fits(const model::NetworkSpec& spec, int index) {
  using model::LayerKind;
  if (index < 0 || std::size_t(index) + 1 >= spec.layers.size()) return false;
  // The fused kernels compute no input gradient, so nothing before the pair may need one.
  for (int i = 0; i < index; ++i) {
    if (spec.layers[std::size_t(i)].parameter_tensors != 0) return false;
  }
  const model::LayerSpec& conv = spec.layers[std::size_t(index)];
  const model::LayerSpec& pool = spec.layers[std::size_t(index) + 1];
  return conv.kind == LayerKind::kConv2D && conv.input == model::Shape{1, model::kImageSide, model::kImageSide} &&
         conv.units == model::kConvFilters && conv.kernel_h == model::kConvKernel &&
         conv.kernel_w == model::kConvKernel && conv.stride_h == 1 && conv.stride_w == 1 &&
         conv.padding == model::Padding::kValid && conv.use_bias && conv.activation == model::Activation::kRelu &&
         pool.kind == LayerKind::kMaxPool2D && pool.kernel_h == kPool && pool.kernel_w == kPool &&
         pool.stride_h == kPool && pool.stride_w == kPool && pool.padding == model::Padding::kValid;
}

FusedConvPoolLayer::FusedConvPoolLayer(const model::NetworkSpec& spec, int index, int max_batch) {
  if (!fits(spec, index)) throw Error("FusedConvPoolLayer: layers " + std::to_string(index + 1) + " and " +
                                      std::to_string(index + 2) + " are not the fused kernels' conv + pool pair");
  const model::LayerSpec& conv = spec.layers[std::size_t(index)];
  weight_offset_ = spec.parameter_offset(conv, 0);
  bias_offset_ = spec.parameter_offset(conv, 1);
  argmax_.resize(std::size_t(max_batch) * model::kFlatFeatures);
  conv_gradients_.resize(std::size_t(max_batch) * kConvGradientFloatsPerImage);
}

void FusedConvPoolLayer::forward(const LayerForward& args) {
  conv_relu_pool_forward(args.input, args.count, args.parameters + weight_offset_, args.parameters + bias_offset_,
                         args.output, argmax_.data(), args.conv_maps);
}

void FusedConvPoolLayer::backward(const LayerBackward& args) {
  // The convolution's ReLU backward, applied to the pooled values instead of the maps: only a
  // window's winner receives gradient, and the winner's ReLU output is the pooled value, so
  // relu_backward(pooled, dpooled) routed to the winner equals relu_backward(maps, dmaps)
  // everywhere, on a quarter of the elements.
  relu_backward_inplace(args.output, args.doutput, std::size_t(args.count) * model::kFlatFeatures);
  conv_relu_pool_backward_params(args.input, args.doutput, argmax_.data(), args.count, conv_gradients_.data(),
                                 args.gradients + weight_offset_, args.gradients + bias_offset_);
}

}  // namespace train_gpu::cpu
