// Max and average pooling on cuDNN's pooling API (--pooling cudnn), the alternative to the
// custom kernels of pool.cu (the tutorial's 2x2 max pooling) and of cuda/network/pooling_layer.cu
// (a spec's pooling layers); see cudnn_pool.cu for what differs.
#pragma once

#include <map>

#include "cuda/cudnn_api.h"
#include "cuda/handles.h"
#include "cuda/math/window_pool_math.h"

namespace train_gpu::cuda {

enum class CudnnPoolMode { kMax, kAverage };

// The tutorial's pooling: 2x2 windows, stride 2, no padding, on a side x side map.
inline math::PoolGeometry maxpool2x2_geometry(int side) {
  math::PoolGeometry g;
  g.in_h = g.in_w = side;
  g.out_h = g.out_w = side / 2;
  g.kernel_h = g.kernel_w = 2;
  g.stride_h = g.stride_w = 2;
  return g;
}

class CudnnPool {
 public:
  // The handle must outlive the layer; its stream is the stream every call runs on. The
  // geometry's padding is symmetric (cuDNN's): pad_top both sides of H, pad_left both of W.
  CudnnPool(cudnnHandle_t cudnn, CudnnPoolMode mode, int channels, const math::PoolGeometry& geometry);

  // output (count, channels, out_h, out_w) = the windows' maxima or averages of input
  // (count, channels, in_h, in_w); average pooling leaves padded cells out of the count.
  void forward(const float* input, int count, float* output);

  // dinput (count, channels, in_h, in_w) = doutput routed back through the windows (overwrites).
  // input and output are the forward pass's. A ReLU mask is the caller's (launch_relu_backward).
  void backward(const float* input, const float* output, const float* doutput, int count, float* dinput);

 private:
  // Descriptors for one batch size, built on first use (host-only cuDNN calls) and kept.
  struct BatchShapes {
    TensorDescriptor input;   // (count, channels, in_h, in_w)
    TensorDescriptor output;  // (count, channels, out_h, out_w)
  };
  BatchShapes& shapes_for(int count);

  cudnnHandle_t cudnn_;
  int channels_;
  math::PoolGeometry geometry_;
  PoolingDescriptor pooling_;
  std::map<int, BatchShapes> shapes_;
};

}  // namespace train_gpu::cuda
