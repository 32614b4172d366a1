#include "host/model/cpu/pooling_layer.h"

#include "host/model/cpu/conv2d_layer.h"
#include "host/model/cpu/onednn.h"
#include "host/model/cpu/onednn_layout.h"

namespace train_gpu::cpu {

using dnnl::memory;
using onednn::ChosenLayout;

struct PoolingLayer::Primitives {
  memory::desc src;  // plain, or the convolution's blocked layout when it hands off
  dnnl::pooling_forward forward;
  dnnl::pooling_backward backward;
  ChosenLayout dst, diff_dst;  // the output and its gradient: plain NCHW outside, the pooling's layout inside
  Conv2DLayer::BlockedHandoff handoff;  // empty memories: the plain input and input gradient
  memory workspace;  // max pooling: which input won each window, written by forward
  bool has_workspace = false;
};

PoolingLayer::PoolingLayer(const model::NetworkSpec& spec, int layer_index) : layer_(spec.layers.at(std::size_t(layer_index))) {
  if (layer_.kind != model::LayerKind::kMaxPool2D && layer_.kind != model::LayerKind::kAvgPool2D) {
    throw Error("PoolingLayer: layer " + layer_.name + " is not a pooling layer");
  }
}

PoolingLayer::~PoolingLayer() = default;

void PoolingLayer::read_from(Conv2DLayer& convolution) { convolution_ = &convolution; }

PoolingLayer::Primitives& PoolingLayer::primitives(int count) {
  return cache_.get(count, [&] { return build(count); });
}

std::unique_ptr<PoolingLayer::Primitives> PoolingLayer::build(int count) const {
  const std::string what = kind_name(layer_.kind) + " layer " + layer_.name + " at batch " + std::to_string(count);
  auto p = std::make_unique<Primitives>();
  if (convolution_ != nullptr) p->handoff = convolution_->blocked_handoff(count);
  const bool blocked = bool(p->handoff.output);
  p->src = blocked ? p->handoff.output.get_desc() : onednn::activation_desc(count, layer_.input);
  const memory::desc plain_dst = onednn::activation_desc(count, layer_.output);
  // On a blocked input the output takes the pooling's choice (the same blocking) and reorders to
  // plain NCHW for the layers after, which read that.
  const memory::desc dst = blocked ? memory::desc(plain_dst.dims(), memory::data_type::f32, memory::format_tag::any) : plain_dst;
  const memory::dims strides = {layer_.stride_h, layer_.stride_w};
  const memory::dims kernel = {layer_.kernel_h, layer_.kernel_w};
  const memory::dims pad_before = {layer_.pad_top, layer_.pad_left};
  const memory::dims pad_after = {layer_.pad_bottom, layer_.pad_right};
  const dnnl::algorithm algorithm = layer_.kind == model::LayerKind::kMaxPool2D
                                        ? dnnl::algorithm::pooling_max
                                        : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::engine& engine = onednn::engine();
  const auto forward_pd = onednn::create(what, [&] {
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_training, algorithm, p->src, dst, strides,
                                           kernel, pad_before, pad_after);
    return dnnl::pooling_forward::primitive_desc(desc, engine);
  });
  p->forward = onednn::create(what, [&] { return dnnl::pooling_forward(forward_pd); });
  p->dst = ChosenLayout(what, plain_dst, forward_pd.dst_desc());
  const auto backward_pd = onednn::create(what, [&] {
    const dnnl::pooling_backward::desc desc(algorithm, p->src, forward_pd.dst_desc(), strides, kernel, pad_before, pad_after);
    return dnnl::pooling_backward::primitive_desc(desc, engine, forward_pd);
  });
  p->backward = onednn::create(what, [&] { return dnnl::pooling_backward(backward_pd); });
  p->diff_dst = ChosenLayout(what, plain_dst, backward_pd.diff_dst_desc());
  const memory::desc workspace = forward_pd.workspace_desc();
  p->has_workspace = workspace.get_size() > 0;
  if (p->has_workspace) p->workspace = onednn::create(what, [&] { return memory(workspace, engine); });
  return p;
}

void PoolingLayer::forward(const LayerForward& args) {
  Primitives& p = primitives(args.count);
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, p.handoff.output ? p.handoff.output : onednn::wrap(p.src, args.input)},
      {DNNL_ARG_DST, p.dst.output(args.output)}};
  if (p.has_workspace) arguments.emplace(DNNL_ARG_WORKSPACE, p.workspace);
  onednn::execute("pooling forward", p.forward, arguments);
  p.dst.finish_output(args.output);
}

void PoolingLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  Primitives& p = primitives(args.count);
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_DIFF_DST, p.diff_dst.input(args.doutput)},
      {DNNL_ARG_DIFF_SRC, p.handoff.doutput ? p.handoff.doutput : onednn::wrap(p.src, args.dinput)}};
  if (p.has_workspace) arguments.emplace(DNNL_ARG_WORKSPACE, p.workspace);
  onednn::execute("pooling backward", p.backward, arguments);
}

}  // namespace train_gpu::cpu
