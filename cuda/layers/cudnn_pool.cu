// cuDNN max pooling (cudnnPoolingForward / cudnnPoolingBackward, classic API like conv.cu).
//
// What it costs against the custom kernels of pool.cu: the post-ReLU convolution map must be
// written in the forward pass and read again in the backward (cuDNN recomputes the window
// maxima from input and output instead of keeping an argmax), and the ReLU mask and the
// convolution's bias gradient need passes of their own. What it offers: cuDNN's own tuned
// kernel. Which is faster on the H200 is measured by tools/device-bench.sh.
//
// Mode CUDNN_POOLING_MAX_DETERMINISTIC: the backward pass is reproducible. On ties cuDNN may
// route the gradient to another element than the custom kernel's first maximum; after the ReLU
// that only matters for equal positive values in one window, which float convolution outputs of
// real images hit rarely (an all-zero patch gives the bias in all four; the ReLU mask then
// decides, and equal patches give equal filter gradients), so tests compare with tolerances.
#include "cuda/layers/cudnn_pool.h"

#include <string>

#include "cuda/check.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

}  // namespace

CudnnMaxPool::CudnnMaxPool(cudnnHandle_t cudnn, int channels, int side)
    : cudnn_(cudnn), channels_(channels), side_(side), pooling_(make_pooling_descriptor()) {
  if (channels <= 0 || side <= 0 || side % 2 != 0) {
    throw Error("cuDNN max pooling: channels " + std::to_string(channels) + " and side " + std::to_string(side) +
                " must be positive, the side even");
  }
  CUDNN_CHECK(cudnnSetPooling2dDescriptor(pooling_.get(), CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN,
                                          2, 2, 0, 0, 2, 2));
}

CudnnMaxPool::BatchShapes& CudnnMaxPool::shapes_for(int count) {
  if (count <= 0) throw Error("cuDNN max pooling: batch of " + std::to_string(count) + " maps");
  auto found = shapes_.find(count);
  if (found != shapes_.end()) return found->second;
  BatchShapes shapes;
  shapes.input = make_tensor_descriptor();
  shapes.output = make_tensor_descriptor();
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(shapes.input.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, channels_,
                                         side_, side_));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(shapes.output.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, channels_,
                                         side_ / 2, side_ / 2));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pooling_.get(), shapes.input.get(), &n, &c, &h, &w));
  if (n != count || c != channels_ || h != side_ / 2 || w != side_ / 2) {
    throw Error("cuDNN max pooling computes output shape (" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                std::to_string(h) + ", " + std::to_string(w) + "), expected (" + std::to_string(count) + ", " +
                std::to_string(channels_) + ", " + std::to_string(side_ / 2) + ", " + std::to_string(side_ / 2) + ")");
  }
  return shapes_.emplace(count, std::move(shapes)).first->second;
}

void CudnnMaxPool::forward(const float* input, int count, float* output) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnPoolingForward(cudnn_, pooling_.get(), &kOne, shapes.input.get(), input, &kZero,
                                  shapes.output.get(), output));
}

void CudnnMaxPool::backward(const float* input, const float* output, const float* doutput, int count, float* dinput) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnPoolingBackward(cudnn_, pooling_.get(), &kOne, shapes.output.get(), output, shapes.output.get(),
                                   doutput, shapes.input.get(), input, &kZero, shapes.input.get(), dinput));
}

}  // namespace train_gpu::cuda
