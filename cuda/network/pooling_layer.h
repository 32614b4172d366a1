// MaxPooling2D and AveragePooling2D on the GPU, any window, strides and valid/same padding, with
// Keras's semantics (cuda/math/window_pool_math.h, which the CPU tests check against the CPU
// backend's oneDNN pooling). Our kernels rather than cuDNN's pooling: cuDNN's pooling descriptor
// pads symmetrically and TensorFlow's same padding is asymmetric whenever its total is odd (a
// 2x2 window on an odd side, a stride-2 3x3 on an even one), and cuDNN's average "exclude
// padding" would count the explicit padding such a layer needs as cells. The backward pass is a
// gather (no atomics), so it is deterministic. Max pooling keeps each window's winner (an index
// in the plane) from forward for backward.
//
// The other two ways a layer may run (fusion_plan.h decides which):
//   --pooling cudnn: cuDNN's pooling (cuda/layers/cudnn_pool.h), for layers it computes as Keras;
//   --kernels fused after a Conv2D relu, 2x2/2 max pooling: the tutorial's pooling kernels
//     (cuda/layers/pool.h) with the convolution's bias and ReLU folded in, forward and backward,
//     and the convolution's bias gradient summed in the backward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cuda/cudnn_api.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/layers/cudnn_pool.h"
#include "cuda/math/window_pool_math.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"
#include "cuda/network/fusion_plan.h"

namespace train_gpu::cuda {

class PoolingLayer final : public CudaLayer {
 public:
  // `cudnn` (bound to the network's stream, outliving the layer) is used with fusion.cudnn_pooling,
  // and names the stream the fused variant's counters are zeroed on.
  PoolingLayer(const model::NetworkSpec& spec, int layer_index, int max_batch, cudnnHandle_t cudnn = nullptr,
               const LayerFusion& fusion = LayerFusion{});
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  bool max_;
  int channels_;
  math::PoolGeometry geometry_;
  DeviceBuffer<int> winners_;  // our max pooling: (max_batch, C, out_h, out_w), written by forward
  std::unique_ptr<CudnnPool> cudnn_pool_;  // --pooling cudnn
  // Bias + ReLU folded in: the convolution's bias, the window argmax (dy*2+dx), the bias
  // gradient's per-chunk partials and arrival counters (zeroed once, re-armed by the kernel).
  std::ptrdiff_t conv_bias_offset_ = -1;
  DeviceBuffer<uint8_t> argmax_;
  ChannelSumBuffers channel_sums_;
};

}  // namespace train_gpu::cuda
