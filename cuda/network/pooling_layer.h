// MaxPooling2D and AveragePooling2D on the GPU, any window, strides and valid/same padding, with
// Keras's semantics (cuda/math/window_pool_math.h, which the CPU tests check against the CPU
// backend's oneDNN pooling). Our kernels rather than cuDNN's pooling: cuDNN's pooling descriptor
// pads symmetrically and TensorFlow's same padding is asymmetric whenever its total is odd (a
// 2x2 window on an odd side, a stride-2 3x3 on an even one), and cuDNN's average "exclude
// padding" would count the explicit padding such a layer needs as cells. The backward pass is a
// gather (no atomics), so it is deterministic. Max pooling keeps each window's winner (an index
// in the plane) from forward for backward.
#pragma once

#include <cstddef>

#include "cuda/math/window_pool_math.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"

namespace train_gpu::cuda {

class PoolingLayer final : public CudaLayer {
 public:
  PoolingLayer(const model::NetworkSpec& spec, int layer_index, int max_batch);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  bool max_;
  int channels_;
  math::PoolGeometry geometry_;
  DeviceBuffer<int> winners_;  // max pooling: (max_batch, C, out_h, out_w), written by forward
};

}  // namespace train_gpu::cuda
