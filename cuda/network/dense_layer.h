// Dense (Keras's Dense, PyTorch's Linear) on the GPU: weight (units, in_features), optional
// bias, its activation applied in place to its output. The products are cuda/layers/dense.h's
// cuBLAS SGEMMs, the tutorial's own; the bias add is launch_bias_activation and the bias
// gradient launch_channel_sum (plane 1), as for the tutorial's dense layers.
#pragma once

#include <cublas_v2.h>

#include <cstddef>

#include "cuda/network/cuda_layer.h"

namespace train_gpu::cuda {

class DenseLayer final : public CudaLayer {
 public:
  // The handle must outlive the layer; it runs on the network's stream.
  DenseLayer(const model::NetworkSpec& spec, int layer_index, cublasHandle_t cublas);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  cublasHandle_t cublas_;
  int in_features_, units_;
  model::Activation activation_;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
};

}  // namespace train_gpu::cuda
