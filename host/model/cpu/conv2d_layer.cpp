#include "host/model/cpu/conv2d_layer.h"

#include "host/model/cpu/activation_layer.h"
#include "host/model/cpu/onednn.h"
#include "host/model/cpu/onednn_layout.h"

namespace train_gpu::cpu {

using dnnl::memory;
using onednn::ChosenLayout;

// Every primitive takes its activations and weights in the layout it chose (format_tag::any):
// on plain NCHW, oneDNN 2.6 runs this layer's convolutions as im2col + GEMM, on its blocked
// layouts as direct JIT kernels, several times faster (docs/performance.md, the Simple MNIST
// convnet). The reorders cost a pass over each array, little beside the convolution's
// kernel_h * kernel_w * in_channels multiply-adds per output.
struct Conv2DLayer::Primitives {
  memory::desc bias;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
  bool relu_fused = false;                     // the ReLU runs as the forward convolution's post-op
  ChosenLayout src, weights, dst;              // forward's
  ChosenLayout weights_src, weights_diff_dst, diff_weights;  // backward (weights)'s
  ChosenLayout data_weights, data_diff_dst, diff_src;        // backward (data)'s
  bool handed_off = false;  // a pooling layer reads dst's buffer and writes weights_diff_dst's
};

Conv2DLayer::Conv2DLayer(const model::NetworkSpec& spec, int layer_index, bool winograd)
    : layer_(spec.layers.at(std::size_t(layer_index))) {
  if (layer_.kind != model::LayerKind::kConv2D) throw Error("Conv2DLayer: layer " + layer_.name + " is not a Conv2D");
  weight_offset_ = spec.parameter_offset(layer_, 0);
  bias_offset_ = spec.bias_offset(layer_);
  // Asked once, at batch 1, so that the layer can say what it runs before its first batch: a
  // batch size oneDNN would still refuse (none known) falls back to direct in build().
  if (winograd && layer_.kernel_h == 3 && layer_.kernel_w == 3 && layer_.stride_h == 1 && layer_.stride_w == 1) {
    try {
      forward_desc(1, dnnl::algorithm::convolution_winograd);
      winograd_ = true;
    } catch (const dnnl::error&) {
      // no Winograd kernel for these channels, this padding or this CPU: direct
    }
  }
}

Conv2DLayer::~Conv2DLayer() = default;

Conv2DLayer::Primitives& Conv2DLayer::primitives(int count) {
  return cache_.get(count, [&] { return build(count); });
}

namespace {

// What every primitive of the layer at one batch size is described by: its arrays in the
// layouts oneDNN may choose (format_tag::any), and the window's geometry.
struct ConvGeometry {
  memory::desc src, weights, dst, bias;  // bias: empty without one
  memory::dims strides, pad_before, pad_after;
};

ConvGeometry geometry(const model::LayerSpec& layer, int count) {
  const auto any = [](const memory::dims& dims) { return memory::desc(dims, memory::data_type::f32, memory::format_tag::any); };
  ConvGeometry g;
  g.src = any(onednn::activation_desc(count, layer.input).dims());
  g.weights = any({layer.units, layer.input.channels, layer.kernel_h, layer.kernel_w});
  g.dst = any(onednn::activation_desc(count, layer.output).dims());
  if (layer.use_bias) g.bias = memory::desc({layer.units}, memory::data_type::f32, memory::format_tag::x);
  g.strides = {layer.stride_h, layer.stride_w};
  g.pad_before = {layer.pad_top, layer.pad_left};
  g.pad_after = {layer.pad_bottom, layer.pad_right};
  return g;
}

// make(algorithm) with Winograd when asked for, else, or where oneDNN has no Winograd kernel for
// it, with direct sums (whose failure is one error naming `what`). *winograd_used, when given,
// says which.
template <typename Make>
auto winograd_or_direct(bool winograd, const std::string& what, const Make& make, bool* winograd_used = nullptr)
    -> decltype(make(dnnl::algorithm::convolution_direct)) {
  if (winograd_used != nullptr) *winograd_used = false;
  if (winograd) {
    try {
      auto made = make(dnnl::algorithm::convolution_winograd);
      if (winograd_used != nullptr) *winograd_used = true;
      return made;
    } catch (const dnnl::error&) {
      // no Winograd kernel for this primitive at this batch size: direct, as for any other layer
    }
  }
  return onednn::create(what, [&] { return make(dnnl::algorithm::convolution_direct); });
}

}  // namespace

dnnl::convolution_forward::primitive_desc Conv2DLayer::forward_desc(int count, dnnl::algorithm algorithm) const {
  const ConvGeometry g = geometry(layer_, count);
  // ReLU as a post-op: applied while the output is still in registers, not in a second pass.
  dnnl::primitive_attr attributes;
  if (layer_.activation == model::Activation::kRelu) {
    dnnl::post_ops relu;
    relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attributes.set_post_ops(relu);
  }
  const auto kind = dnnl::prop_kind::forward_training;
  const auto desc = layer_.use_bias ? dnnl::convolution_forward::desc(kind, algorithm, g.src, g.weights, g.bias, g.dst,
                                                                      g.strides, g.pad_before, g.pad_after)
                                    : dnnl::convolution_forward::desc(kind, algorithm, g.src, g.weights, g.dst, g.strides,
                                                                      g.pad_before, g.pad_after);
  return dnnl::convolution_forward::primitive_desc(desc, attributes, onednn::engine());
}

std::unique_ptr<Conv2DLayer::Primitives> Conv2DLayer::build(int count) const {
  const std::string what = "Conv2D layer " + layer_.name + " at batch " + std::to_string(count);
  auto p = std::make_unique<Primitives>();
  const memory::desc plain_src = onednn::activation_desc(count, layer_.input);
  const memory::desc plain_dst = onednn::activation_desc(count, layer_.output);
  const memory::desc plain_weights({layer_.units, layer_.input.channels, layer_.kernel_h, layer_.kernel_w},
                                   memory::data_type::f32, memory::format_tag::oihw);
  const ConvGeometry g = geometry(layer_, count);
  p->bias = g.bias;
  dnnl::engine& engine = onednn::engine();

  p->relu_fused = layer_.activation == model::Activation::kRelu;
  bool forward_winograd = false;
  const auto forward_pd = winograd_or_direct(
      winograd_, what, [&](dnnl::algorithm algorithm) { return forward_desc(count, algorithm); }, &forward_winograd);
  p->forward = onednn::create(what, [&] { return dnnl::convolution_forward(forward_pd); });
  p->src = ChosenLayout(what, plain_src, forward_pd.src_desc());
  p->weights = ChosenLayout(what, plain_weights, forward_pd.weights_desc());
  p->dst = ChosenLayout(what, plain_dst, forward_pd.dst_desc());

  // Direct even after a Winograd forward: oneDNN's Winograd input gradient was the slower here.
  const auto data_pd = onednn::create(what, [&] {
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, g.src, g.weights, g.dst,
                                                     g.strides, g.pad_before, g.pad_after);
    return dnnl::convolution_backward_data::primitive_desc(desc, engine, forward_pd);
  });
  p->backward_data = onednn::create(what, [&] { return dnnl::convolution_backward_data(data_pd); });
  p->data_weights = ChosenLayout(what, plain_weights, data_pd.weights_desc());
  p->data_diff_dst = ChosenLayout(what, plain_dst, data_pd.diff_dst_desc());
  p->diff_src = ChosenLayout(what, plain_src, data_pd.diff_src_desc());

  // The weight gradient takes Winograd only after a Winograd forward (its hint).
  const auto weights_pd = winograd_or_direct(
      forward_winograd, what,
      [&](dnnl::algorithm algorithm) {
        const auto desc = layer_.use_bias
                              ? dnnl::convolution_backward_weights::desc(algorithm, g.src, g.weights, g.bias, g.dst,
                                                                         g.strides, g.pad_before, g.pad_after)
                              : dnnl::convolution_backward_weights::desc(algorithm, g.src, g.weights, g.dst, g.strides,
                                                                         g.pad_before, g.pad_after);
        return dnnl::convolution_backward_weights::primitive_desc(desc, engine, forward_pd);
      });
  p->backward_weights = onednn::create(what, [&] { return dnnl::convolution_backward_weights(weights_pd); });
  p->weights_src = ChosenLayout(what, plain_src, weights_pd.src_desc());
  p->weights_diff_dst = ChosenLayout(what, plain_dst, weights_pd.diff_dst_desc());
  p->diff_weights = ChosenLayout(what, plain_weights, weights_pd.diff_weights_desc());
  return p;
}

Conv2DLayer::BlockedHandoff Conv2DLayer::blocked_handoff(int count) {
  Primitives& p = primitives(count);
  const bool activation_fits = layer_.activation == model::Activation::kRelu || layer_.activation == model::Activation::kLinear;
  // One blocked gradient must serve both backward primitives, in the layout of the output.
  if (!activation_fits || !p.dst.reorders() || !p.weights_diff_dst.same_layout(p.dst) ||
      !p.data_diff_dst.same_layout(p.weights_diff_dst)) {
    return {};
  }
  p.handed_off = true;
  return {p.dst.buffer(), p.weights_diff_dst.buffer()};
}

void Conv2DLayer::forward(const LayerForward& args) {
  Primitives& p = primitives(args.count);
  // The weights reorder here, once per step: backward (data) reads this buffer again when it
  // takes the same layout, as the parameters do not change between a step's forward and backward.
  std::unordered_map<int, memory> arguments = {{DNNL_ARG_SRC, p.src.input(args.input)},
                                               {DNNL_ARG_WEIGHTS, p.weights.input(args.parameters + weight_offset_)},
                                               {DNNL_ARG_DST, p.dst.output(args.output)}};
  if (bias_offset_ >= 0) arguments.emplace(DNNL_ARG_BIAS, onednn::wrap(p.bias, args.parameters + bias_offset_));
  onednn::execute("convolution forward", p.forward, arguments);
  // Handed off, the pooling after this layer reads the blocked output and backward the blocked
  // buffer (the activation is ReLU, fused, or linear): the plain copy, a pass over the layer's
  // largest array, is made only for whoever reads layer outputs (features).
  if (p.handed_off && !args.keep_outputs) return;
  p.dst.finish_output(args.output);
  if (!p.relu_fused) {
    activation_forward(layer_.activation, args.output, std::size_t(args.count) * std::size_t(layer_.output.size()));
  }
}

void Conv2DLayer::backward(const LayerBackward& args) {
  Primitives& p = primitives(args.count);
  memory diff_dst;
  if (p.handed_off) {
    // The pooling layer wrote the gradient into the blocked buffer; the output and its gradient
    // share that layout, so the activation's backward runs on it element by element, padding
    // included (zeros in both, and relu_backward(0, 0) is 0).
    diff_dst = p.weights_diff_dst.buffer();
    activation_backward(layer_.activation, static_cast<const float*>(p.dst.buffer().get_data_handle()),
                        static_cast<float*>(diff_dst.get_data_handle()), diff_dst.get_desc().get_size() / sizeof(float));
  } else {
    activation_backward(layer_.activation, args.output, args.doutput,
                        std::size_t(args.count) * std::size_t(layer_.output.size()));
    diff_dst = p.weights_diff_dst.input(args.doutput);
  }
  // What forward reordered (the input) is reused when backward takes the same layout: backward
  // follows a forward on the same batch and parameters (cpu_layer.h).
  const memory src = p.src.reorders() && p.weights_src.same_layout(p.src) ? p.src.last() : p.weights_src.input(args.input);
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, src},
      {DNNL_ARG_DIFF_DST, diff_dst},
      {DNNL_ARG_DIFF_WEIGHTS, p.diff_weights.output(args.gradients + weight_offset_)}};
  if (bias_offset_ >= 0) arguments.emplace(DNNL_ARG_DIFF_BIAS, onednn::wrap(p.bias, args.gradients + bias_offset_));
  onednn::execute("convolution backward (weights)", p.backward_weights, arguments);
  p.diff_weights.finish_output(args.gradients + weight_offset_);
  if (args.need_dinput) {
    const memory data_diff_dst =
        p.data_diff_dst.same_layout(p.weights_diff_dst) ? diff_dst : p.data_diff_dst.input(args.doutput);
    const memory weights = p.weights.reorders() && p.data_weights.same_layout(p.weights)
                               ? p.weights.last()
                               : p.data_weights.input(args.parameters + weight_offset_);
    onednn::execute("convolution backward (data)", p.backward_data,
                    {{DNNL_ARG_DIFF_DST, data_diff_dst},
                     {DNNL_ARG_WEIGHTS, weights},
                     {DNNL_ARG_DIFF_SRC, p.diff_src.output(args.dinput)}});
    p.diff_src.finish_output(args.dinput);
  }
}

}  // namespace train_gpu::cpu
