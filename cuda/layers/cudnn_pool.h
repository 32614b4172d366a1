// 2x2 max pooling, stride 2, on cuDNN's pooling API (--pooling cudnn), the alternative to the
// custom kernels of pool.cu (see cudnn_pool.cu for what differs).
#pragma once

#include <map>

#include "cuda/cudnn_api.h"
#include "cuda/handles.h"

namespace train_gpu::cuda {

class CudnnMaxPool {
 public:
  // The handle must outlive the layer; its stream is the stream every call runs on.
  CudnnMaxPool(cudnnHandle_t cudnn, int channels, int side);

  // output (count, channels, side/2, side/2) = window maxima of input (count, channels, side, side).
  void forward(const float* input, int count, float* output);

  // dinput (count, channels, side, side) = doutput routed to each window's maximum (overwrites).
  // input and output are the forward pass's. The ReLU mask is the caller's (launch_relu_backward).
  void backward(const float* input, const float* output, const float* doutput, int count, float* dinput);

 private:
  // Descriptors for one batch size, built on first use (host-only cuDNN calls) and kept.
  struct BatchShapes {
    TensorDescriptor input;   // (count, channels, side, side)
    TensorDescriptor output;  // (count, channels, side/2, side/2)
  };
  BatchShapes& shapes_for(int count);

  cudnnHandle_t cudnn_;
  int channels_;
  int side_;
  PoolingDescriptor pooling_;
  std::map<int, BatchShapes> shapes_;
};

}  // namespace train_gpu::cuda
