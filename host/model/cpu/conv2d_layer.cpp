#include "host/model/cpu/conv2d_layer.h"

#include "host/model/cpu/activation_layer.h"
#include "host/model/cpu/onednn.h"

namespace train_gpu::cpu {

using dnnl::memory;

struct Conv2DLayer::Primitives {
  memory::desc src, dst, weights, bias;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
};

Conv2DLayer::Conv2DLayer(const model::NetworkSpec& spec, int layer_index) : layer_(spec.layers.at(std::size_t(layer_index))) {
  if (layer_.kind != model::LayerKind::kConv2D) throw Error("Conv2DLayer: layer " + layer_.name + " is not a Conv2D");
  weight_offset_ = spec.parameters.at(std::size_t(layer_.first_parameter)).offset;
  bias_offset_ = layer_.use_bias ? std::ptrdiff_t(spec.parameters.at(std::size_t(layer_.first_parameter) + 1).offset) : -1;
}

Conv2DLayer::~Conv2DLayer() = default;

Conv2DLayer::Primitives& Conv2DLayer::primitives(int count) {
  return cache_.get(count, [&] { return build(count); });
}

std::unique_ptr<Conv2DLayer::Primitives> Conv2DLayer::build(int count) const {
  const std::string what = "Conv2D layer " + layer_.name + " at batch " + std::to_string(count);
  auto p = std::make_unique<Primitives>();
  p->src = onednn::activation_desc(count, layer_.input);
  p->dst = onednn::activation_desc(count, layer_.output);
  p->weights = memory::desc({layer_.units, layer_.input.channels, layer_.kernel_h, layer_.kernel_w},
                            memory::data_type::f32, memory::format_tag::oihw);
  p->bias = layer_.use_bias ? memory::desc({layer_.units}, memory::data_type::f32, memory::format_tag::x) : memory::desc();
  const memory::dims strides = {layer_.stride_h, layer_.stride_w};
  const memory::dims pad_before = {layer_.pad_top, layer_.pad_left};
  const memory::dims pad_after = {layer_.pad_bottom, layer_.pad_right};
  dnnl::engine& engine = onednn::engine();
  const auto algorithm = dnnl::algorithm::convolution_direct;
  const auto forward_pd = onednn::create(what, [&] {
    const auto desc = layer_.use_bias
                          ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm, p->src,
                                                            p->weights, p->bias, p->dst, strides, pad_before, pad_after)
                          : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm, p->src,
                                                            p->weights, p->dst, strides, pad_before, pad_after);
    return dnnl::convolution_forward::primitive_desc(desc, engine);
  });
  p->forward = onednn::create(what, [&] { return dnnl::convolution_forward(forward_pd); });
  p->backward_data = onednn::create(what, [&] {
    const dnnl::convolution_backward_data::desc desc(algorithm, p->src, p->weights, p->dst, strides, pad_before, pad_after);
    return dnnl::convolution_backward_data(dnnl::convolution_backward_data::primitive_desc(desc, engine, forward_pd));
  });
  p->backward_weights = onednn::create(what, [&] {
    const auto desc = layer_.use_bias
                          ? dnnl::convolution_backward_weights::desc(algorithm, p->src, p->weights, p->bias, p->dst,
                                                                     strides, pad_before, pad_after)
                          : dnnl::convolution_backward_weights::desc(algorithm, p->src, p->weights, p->dst, strides,
                                                                     pad_before, pad_after);
    return dnnl::convolution_backward_weights(
        dnnl::convolution_backward_weights::primitive_desc(desc, engine, forward_pd));
  });
  return p;
}

void Conv2DLayer::forward(const LayerForward& args) {
  Primitives& p = primitives(args.count);
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, onednn::wrap(p.src, args.input)},
      {DNNL_ARG_WEIGHTS, onednn::wrap(p.weights, args.parameters + weight_offset_)},
      {DNNL_ARG_DST, onednn::wrap(p.dst, args.output)}};
  if (bias_offset_ >= 0) arguments.emplace(DNNL_ARG_BIAS, onednn::wrap(p.bias, args.parameters + bias_offset_));
  onednn::execute("convolution forward", p.forward, arguments);
  activation_forward(layer_.activation, args.output, std::size_t(args.count) * std::size_t(layer_.output.size()));
}

void Conv2DLayer::backward(const LayerBackward& args) {
  Primitives& p = primitives(args.count);
  activation_backward(layer_.activation, args.output, args.doutput,
                      std::size_t(args.count) * std::size_t(layer_.output.size()));
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, onednn::wrap(p.src, args.input)},
      {DNNL_ARG_DIFF_DST, onednn::wrap(p.dst, args.doutput)},
      {DNNL_ARG_DIFF_WEIGHTS, onednn::wrap(p.weights, args.gradients + weight_offset_)}};
  if (bias_offset_ >= 0) arguments.emplace(DNNL_ARG_DIFF_BIAS, onednn::wrap(p.bias, args.gradients + bias_offset_));
  onednn::execute("convolution backward (weights)", p.backward_weights, arguments);
  if (args.need_dinput) {
    onednn::execute("convolution backward (data)", p.backward_data,
                    {{DNNL_ARG_DIFF_DST, onednn::wrap(p.dst, args.doutput)},
                     {DNNL_ARG_WEIGHTS, onednn::wrap(p.weights, args.parameters + weight_offset_)},
                     {DNNL_ARG_DIFF_SRC, onednn::wrap(p.src, args.dinput)}});
  }
}

}  // namespace train_gpu::cpu
