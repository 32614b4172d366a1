#include "host/model/cpu/batch_norm_layer.h"

#include "host/model/cpu/onednn.h"

namespace train_gpu::cpu {

using dnnl::memory;

struct BatchNormLayer::Primitives {
  memory::desc data, channel;
  dnnl::batch_normalization_forward training, evaluation;
  dnnl::batch_normalization_backward backward;
};

BatchNormLayer::BatchNormLayer(const model::NetworkSpec& spec, int layer_index)
    : layer_(spec.layers.at(std::size_t(layer_index))) {
  if (layer_.kind != model::LayerKind::kBatchNorm || layer_.parameter_tensors != 2 || layer_.buffer_tensors != 2) {
    throw Error("BatchNormLayer: layer " + layer_.name + " is not a BatchNormalization with gamma, beta and moving statistics");
  }
  gamma_offset_ = spec.parameter_offset(layer_, 0);
  beta_offset_ = spec.parameter_offset(layer_, 1);
  mean_offset_ = spec.buffers.at(std::size_t(layer_.first_buffer)).offset;
  variance_offset_ = spec.buffers.at(std::size_t(layer_.first_buffer) + 1).offset;
  batch_mean_.assign(std::size_t(layer_.input.channels), 0.0f);
  batch_variance_.assign(std::size_t(layer_.input.channels), 0.0f);
}

BatchNormLayer::~BatchNormLayer() = default;

BatchNormLayer::Primitives& BatchNormLayer::primitives(int count) {
  return cache_.get(count, [&] { return build(count); });
}

std::unique_ptr<BatchNormLayer::Primitives> BatchNormLayer::build(int count) const {
  const std::string what = "BatchNormalization layer " + layer_.name + " at batch " + std::to_string(count);
  auto p = std::make_unique<Primitives>();
  p->data = onednn::activation_desc(count, layer_.input);
  p->channel = memory::desc({layer_.input.channels}, memory::data_type::f32, memory::format_tag::x);
  dnnl::engine& engine = onednn::engine();
  const auto scale_shift = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  const auto training_pd = onednn::create(what, [&] {
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_training, p->data, layer_.epsilon,
                                                       scale_shift);
    return dnnl::batch_normalization_forward::primitive_desc(desc, engine);
  });
  p->training = onednn::create(what, [&] { return dnnl::batch_normalization_forward(training_pd); });
  p->evaluation = onednn::create(what, [&] {
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, p->data, layer_.epsilon,
                                                       scale_shift | dnnl::normalization_flags::use_global_stats);
    return dnnl::batch_normalization_forward(dnnl::batch_normalization_forward::primitive_desc(desc, engine));
  });
  p->backward = onednn::create(what, [&] {
    const dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, p->data, p->data, layer_.epsilon,
                                                        scale_shift);
    return dnnl::batch_normalization_backward(
        dnnl::batch_normalization_backward::primitive_desc(desc, engine, training_pd));
  });
  return p;
}

void BatchNormLayer::forward(const LayerForward& args) {
  Primitives& p = primitives(args.count);
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, onednn::wrap(p.data, args.input)},
      {DNNL_ARG_DST, onednn::wrap(p.data, args.output)},
      {DNNL_ARG_SCALE, onednn::wrap(p.channel, args.parameters + gamma_offset_)},
      {DNNL_ARG_SHIFT, onednn::wrap(p.channel, args.parameters + beta_offset_)}};
  float* moving_mean = args.buffers + mean_offset_;
  float* moving_variance = args.buffers + variance_offset_;
  if (!args.training) {
    arguments.emplace(DNNL_ARG_MEAN, onednn::wrap(p.channel, moving_mean));
    arguments.emplace(DNNL_ARG_VARIANCE, onednn::wrap(p.channel, moving_variance));
    onednn::execute("batch normalization forward (evaluation)", p.evaluation, arguments);
    return;
  }
  arguments.emplace(DNNL_ARG_MEAN, onednn::wrap(p.channel, batch_mean_.data()));
  arguments.emplace(DNNL_ARG_VARIANCE, onednn::wrap(p.channel, batch_variance_.data()));
  onednn::execute("batch normalization forward (training)", p.training, arguments);
  const float momentum = layer_.momentum;
  for (std::size_t c = 0; c < batch_mean_.size(); ++c) {
    moving_mean[c] = moving_mean[c] * momentum + batch_mean_[c] * (1.0f - momentum);
    moving_variance[c] = moving_variance[c] * momentum + batch_variance_[c] * (1.0f - momentum);
  }
}

void BatchNormLayer::backward(const LayerBackward& args) {
  Primitives& p = primitives(args.count);
  // oneDNN always writes diff_src; without a consumer it goes to the caller's dinput all the same
  // (the network allocates every activation gradient).
  onednn::execute("batch normalization backward", p.backward,
                  {{DNNL_ARG_SRC, onednn::wrap(p.data, args.input)},
                   {DNNL_ARG_MEAN, onednn::wrap(p.channel, batch_mean_.data())},
                   {DNNL_ARG_VARIANCE, onednn::wrap(p.channel, batch_variance_.data())},
                   {DNNL_ARG_DIFF_DST, onednn::wrap(p.data, args.doutput)},
                   {DNNL_ARG_SCALE, onednn::wrap(p.channel, args.parameters + gamma_offset_)},
                   {DNNL_ARG_SHIFT, onednn::wrap(p.channel, args.parameters + beta_offset_)},
                   {DNNL_ARG_DIFF_SRC, onednn::wrap(p.data, args.dinput)},
                   {DNNL_ARG_DIFF_SCALE, onednn::wrap(p.channel, args.gradients + gamma_offset_)},
                   {DNNL_ARG_DIFF_SHIFT, onednn::wrap(p.channel, args.gradients + beta_offset_)}});
}

}  // namespace train_gpu::cpu
