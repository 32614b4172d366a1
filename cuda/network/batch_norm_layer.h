// BatchNormalization on the GPU through cuDNN's batch normalization (spatial mode: per channel of
// an NCHW activation; after Flatten or Dense each feature is a channel of a 1x1 image), the twin
// of host/model/cpu/batch_norm_layer.h, which is its oracle and whose conventions it keeps:
//
// Training normalizes with the batch's mean and BIASED (1/N) variance, as cuDNN does, and updates
// the moving statistics as Keras 3 does, with the biased variance for both:
//   moving = moving * momentum + batch * (1 - momentum).
// cuDNN's own running-average update cannot do that: it folds the UNBIASED variance (1/(N-1))
// into its running variance. So cuDNN writes this batch's statistics alone (exponential average
// factor 1) into scratch, and a small kernel rescales the variance by (N-1)/N and applies the
// Keras update to the buffer arena, in the CPU layer's order of operations.
// Evaluation normalizes with the moving statistics and leaves them alone.
// cuDNN needs epsilon >= CUDNN_BN_MIN_EPSILON, which cuDNN 9 defines as 0.0 (any epsilon the spec
// accepts, Keras's 1e-3 and PyTorch's 1e-5 alike); a header with a higher floor would have a
// smaller epsilon refused when the layer is built, naming the layer.
#pragma once

#include <cstddef>
#include <map>

#include "cuda/cudnn_api.h"
#include "cuda/handles.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"

namespace train_gpu::cuda {

class BatchNormLayer final : public CudaLayer {
 public:
  // The handle must outlive the layer; it runs on the network's stream.
  BatchNormLayer(const model::NetworkSpec& spec, int layer_index, cudnnHandle_t cudnn);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  cudnnTensorDescriptor_t data_descriptor(int count);

  model::LayerSpec layer_;
  cudnnHandle_t cudnn_;
  std::size_t gamma_offset_, beta_offset_, mean_offset_, variance_offset_;
  TensorDescriptor channel_descriptor_;  // (1, C, 1, 1)
  DeviceBuffer<float> statistics_;       // (4, C): batch mean, batch unbiased variance, saved mean, saved 1/sqrt(var + eps)
  std::map<int, TensorDescriptor> data_descriptors_;  // per batch size: (count, C, H, W)
};

}  // namespace train_gpu::cuda
