// What --kernels fused and --pooling cudnn change in a spec network (cuda_network.h), decided from
// the spec alone: plain C++ over LayerSpec, tested without a device (tests/cuda_fusion_plan_test.cpp).
// The layers carry the plan out (dense_layer.cu, conv2d_layer.cu, pooling_layer.cu); the tutorial's
// network keeps its own hand-written fused path (cuda/cuda_backend.cu), which these mirror:
//   Dense, relu or linear (or softmax, folded into the loss), with a bias: forward in one cuBLASLt GEMM whose epilogue adds the bias
//     (and applies the ReLU, keeping its mask), backward dW and db in one GEMM (BGRADB epilogue).
//   Dense after a Dense relu with a bias: its input gradient comes out of the GEMM already masked
//     by that ReLU, with the previous layer's bias gradient summed in the same epilogue
//     (DRELU_BGRAD), so the previous layer's backward runs only its weight GEMM.
//   Conv2D relu with a bias, then MaxPooling2D 2x2/2 without padding on a square even map of at
//     most kMaxSpreadChannels channels (block_split.h): the convolution leaves its raw output and
//     the pooling kernel adds the bias, applies the ReLU and pools
//     (launch_bias_relu_maxpool2x2_forward); its backward routes, masks and sums the bias gradient
//     in one pass (launch_maxpool2x2_relu_backward_bias).
// cuBLASLt may still decline a shape at a batch size: the Dense choices here are candidates, and
// each layer asks EpilogueDense::supports() (host-only, once per shape) before a call, running
// the classic sequence where it declines.
//
// --pooling cudnn: every MaxPooling2D/AveragePooling2D through cuDNN's pooling instead of
// pooling_layer.cu's kernels, where cuDNN computes Keras's result: cuDNN pads symmetrically, so
// a layer whose same padding is asymmetric (TensorFlow puts the odd cell bottom/right) is refused
// with one error line rather than silently run on other kernels: the option asks for cuDNN (to
// compare or time it), and a run that quietly used something else would misreport. Average
// pooling excludes the padding from the count, as Keras does (CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING).
// With --kernels fused too, the convolutions keep their own bias + ReLU and cuDNN pools, as in
// the tutorial's backend (cuDNN's pooling has nothing to fold them into).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cuda/kernel_choice.h"
#include "cuda/kernels/block_split.h"
#include "host/common/error.h"
#include "host/model/network_spec.h"

namespace train_gpu::cuda {

struct LayerFusion {
  // Dense
  bool epilogue_forward = false;      // kForwardBiasRelu (relu) or kForwardBias (linear)
  bool epilogue_weight_bias = false;  // kBackwardWeightBias
  bool epilogue_input_relu = false;   // kBackwardInputRelu over the previous Dense's ReLU mask
  bool relu_mask_for_next = false;    // the next Dense may take over this one's ReLU and bias gradient
  // Conv2D + MaxPooling2D
  bool bias_relu_in_pooling = false;  // Conv2D: leaves its raw output, the next layer adds bias + ReLU
  bool pools_bias_relu = false;       // MaxPooling2D: applies the previous Conv2D's bias + ReLU
  // --pooling cudnn
  bool cudnn_pooling = false;
};

struct FusionPlan {
  std::vector<LayerFusion> layers;  // [i]: layer i
  // Whether anything differs from the classic network.
  bool any() const {
    for (const LayerFusion& f : layers) {
      if (f.epilogue_forward || f.epilogue_weight_bias || f.epilogue_input_relu || f.bias_relu_in_pooling ||
          f.pools_bias_relu || f.cudnn_pooling) {
        return true;
      }
    }
    return false;
  }
};

namespace fusion_detail {

// cuBLASLt's plans are searched with a 16-byte alignment floor (dense_epilogue.cu) and the
// parameter arena starts on a 256-byte boundary: a tensor qualifies when its offset is a
// multiple of 4 floats.
inline bool aligned16(std::size_t offset_floats) { return offset_floats % 4 == 0; }

// Softmax is linear here: as the last activation (the only place the spec allows it) it is
// folded into the loss, and the layers apply nothing (activation_layer.h).
inline bool fusable_dense(const model::NetworkSpec& spec, const model::LayerSpec& layer) {
  if (layer.kind != model::LayerKind::kDense || !layer.use_bias) return false;
  if (layer.activation != model::Activation::kRelu && layer.activation != model::Activation::kLinear &&
      layer.activation != model::Activation::kSoftmax) {
    return false;
  }
  return aligned16(spec.parameter_offset(layer, 0)) && aligned16(std::size_t(spec.bias_offset(layer)));
}

// The pooling kernels of cuda/layers/pool.h: 2x2 windows, stride 2, no padding, a square map of
// even side (each window whole, none overlapping), and no more channels than the backward's
// grid has rows (its bias-gradient sum is spread over blocks, block_split.h).
inline bool fused_pool_shape(const model::LayerSpec& pool) {
  return pool.kind == model::LayerKind::kMaxPool2D && pool.kernel_h == 2 && pool.kernel_w == 2 &&
         pool.stride_h == 2 && pool.stride_w == 2 && pool.pad_top == 0 && pool.pad_left == 0 &&
         pool.pad_bottom == 0 && pool.pad_right == 0 && pool.input.height == pool.input.width &&
         pool.input.height % 2 == 0 && pool.output.height * 2 == pool.input.height &&
         pool.input.channels <= kMaxSpreadChannels;
}

inline std::string pooling_description(const model::LayerSpec& pool) {
  return std::string(pool.kind == model::LayerKind::kMaxPool2D ? "MaxPooling2D" : "AveragePooling2D") + " " +
         std::to_string(pool.kernel_h) + "x" + std::to_string(pool.kernel_w) + ", stride " +
         std::to_string(pool.stride_h) + "x" + std::to_string(pool.stride_w) + ", " + model::padding_name(pool.padding) +
         " padding on " + std::to_string(pool.input.height) + "x" + std::to_string(pool.input.width);
}

}  // namespace fusion_detail

// Throws (one line naming the layer) for --pooling cudnn on a pooling layer cuDNN cannot compute
// as Keras does.
inline FusionPlan plan_fusion(const model::NetworkSpec& spec, KernelSet kernels, PoolingKind pooling) {
  using model::LayerKind;
  FusionPlan plan;
  plan.layers.resize(spec.layers.size());
  const bool fused = kernels == KernelSet::kFused;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const model::LayerSpec& layer = spec.layers[i];
    LayerFusion& here = plan.layers[i];
    const model::LayerSpec* previous = i > 0 ? &spec.layers[i - 1] : nullptr;
    if (fused && fusion_detail::fusable_dense(spec, layer)) {
      here.epilogue_forward = here.epilogue_weight_bias = true;
      if (previous != nullptr && fusion_detail::fusable_dense(spec, *previous) &&
          previous->activation == model::Activation::kRelu) {
        here.epilogue_input_relu = true;
        plan.layers[i - 1].relu_mask_for_next = true;
      }
    }
    const bool pooling_layer = layer.kind == LayerKind::kMaxPool2D || layer.kind == LayerKind::kAvgPool2D;
    if (fused && pooling == PoolingKind::kFused && previous != nullptr && previous->kind == LayerKind::kConv2D &&
        previous->activation == model::Activation::kRelu && previous->use_bias &&
        fusion_detail::fused_pool_shape(layer)) {
      here.pools_bias_relu = true;
      plan.layers[i - 1].bias_relu_in_pooling = true;
    }
    if (pooling == PoolingKind::kCudnn && pooling_layer) {
      if (layer.pad_top != layer.pad_bottom || layer.pad_left != layer.pad_right) {
        throw Error("--pooling cudnn: layer " + layer.name + " (" + fusion_detail::pooling_description(layer) +
                    ") pads " + std::to_string(layer.pad_top) + " top/" + std::to_string(layer.pad_bottom) +
                    " bottom, " + std::to_string(layer.pad_left) + " left/" + std::to_string(layer.pad_right) +
                    " right as TensorFlow does, and cuDNN pads symmetrically; use --pooling fused (the default) "
                    "for this model");
      }
      here.cudnn_pooling = true;
    }
  }
  return plan;
}

}  // namespace train_gpu::cuda
