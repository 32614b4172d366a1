// What the CUDA layers decide from a LayerSpec before they touch cuDNN: plain C++ over the
// spec's derived fields, so it is tested without a device (tests/cuda_layer_plan_test.cpp).
//
// Convolution padding: cuDNN's classic convolution descriptor pads symmetrically (one pad per
// axis, both sides), while TensorFlow's same padding puts the odd cell of an odd total at the
// bottom/right. A symmetric layer (valid, or same with an even total) hands its pads to cuDNN;
// an asymmetric one is padded explicitly into a zero-bordered copy of its input, which cuDNN then
// convolves without padding (and whose gradient is cropped back in backward-data). Zeros are
// what padding means for a convolution, so both routes compute the same sums.
#pragma once

#include "cuda/math/window_pool_math.h"
#include "host/model/network_spec.h"

namespace train_gpu::cuda {

struct ConvolutionPlan {
  bool explicit_padding = false;  // the input goes through a padded copy first
  int pad_h = 0, pad_w = 0;       // cuDNN's symmetric padding (0 with explicit padding)
  model::Shape convolved;         // what cuDNN convolves: the input, or its padded copy
};

inline ConvolutionPlan plan_convolution(const model::LayerSpec& layer) {
  ConvolutionPlan plan;
  plan.convolved = layer.input;
  if (layer.pad_top == layer.pad_bottom && layer.pad_left == layer.pad_right) {
    plan.pad_h = layer.pad_top;
    plan.pad_w = layer.pad_left;
    return plan;
  }
  plan.explicit_padding = true;
  plan.convolved.height += layer.pad_top + layer.pad_bottom;
  plan.convolved.width += layer.pad_left + layer.pad_right;
  return plan;
}

// cuDNN's output size for one axis (cudnnGetConvolution2dForwardOutputDim's formula, dilation 1).
inline int cudnn_output_size(int input, int pad, int kernel, int stride) {
  return (input + 2 * pad - kernel) / stride + 1;
}

// The pooling geometry of a MaxPooling2D/AveragePooling2D layer, per plane.
inline math::PoolGeometry pool_geometry(const model::LayerSpec& layer) {
  math::PoolGeometry g;
  g.in_h = layer.input.height;
  g.in_w = layer.input.width;
  g.out_h = layer.output.height;
  g.out_w = layer.output.width;
  g.kernel_h = layer.kernel_h;
  g.kernel_w = layer.kernel_w;
  g.stride_h = layer.stride_h;
  g.stride_w = layer.stride_w;
  g.pad_top = layer.pad_top;
  g.pad_left = layer.pad_left;
  return g;
}

}  // namespace train_gpu::cuda
