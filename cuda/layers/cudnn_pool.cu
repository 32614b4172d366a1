// cuDNN pooling (cudnnPoolingForward / cudnnPoolingBackward, classic API like conv.cu): the
// tutorial's 2x2 max pooling and a spec's MaxPooling2D/AveragePooling2D layers alike.
//
// What it costs against the custom kernels of pool.cu: the post-ReLU convolution map must be
// written in the forward pass and read again in the backward (cuDNN recomputes the window
// maxima from input and output instead of keeping an argmax), and the ReLU mask and the
// convolution's bias gradient need passes of their own. What it offers: cuDNN's own tuned
// kernel. Which is faster on the H200 is measured by tools/device-bench.sh.
//
// Average pooling: CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, Keras's same-padding average
// (padded cells are not counted); its backward spreads each gradient evenly, as ours does.
//
// Max mode CUDNN_POOLING_MAX_DETERMINISTIC: the backward pass is reproducible. On ties cuDNN may
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

CudnnPool::CudnnPool(cudnnHandle_t cudnn, CudnnPoolMode mode, int channels, const math::PoolGeometry& geometry)
    : cudnn_(cudnn), channels_(channels), geometry_(geometry), pooling_(make_pooling_descriptor()) {
  const math::PoolGeometry& g = geometry;
  if (channels <= 0 || g.in_h <= 0 || g.in_w <= 0 || g.out_h <= 0 || g.out_w <= 0 || g.kernel_h <= 0 ||
      g.kernel_w <= 0 || g.stride_h <= 0 || g.stride_w <= 0 || g.pad_top < 0 || g.pad_left < 0) {
    throw Error("cuDNN pooling: channels " + std::to_string(channels) + ", map " + std::to_string(g.in_h) + "x" +
                std::to_string(g.in_w) + ", window " + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) +
                " and stride " + std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) +
                " must be positive, the padding not negative");
  }
  const cudnnPoolingMode_t cudnn_mode =
      mode == CudnnPoolMode::kMax ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  CUDNN_CHECK(cudnnSetPooling2dDescriptor(pooling_.get(), cudnn_mode, CUDNN_NOT_PROPAGATE_NAN, g.kernel_h,
                                          g.kernel_w, g.pad_top, g.pad_left, g.stride_h, g.stride_w));
}

CudnnPool::BatchShapes& CudnnPool::shapes_for(int count) {
  if (count <= 0) throw Error("cuDNN pooling: batch of " + std::to_string(count) + " maps");
  auto found = shapes_.find(count);
  if (found != shapes_.end()) return found->second;
  const math::PoolGeometry& g = geometry_;
  BatchShapes shapes;
  shapes.input = make_tensor_descriptor();
  shapes.output = make_tensor_descriptor();
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(shapes.input.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, channels_,
                                         g.in_h, g.in_w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(shapes.output.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, channels_,
                                         g.out_h, g.out_w));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pooling_.get(), shapes.input.get(), &n, &c, &h, &w));
  if (n != count || c != channels_ || h != g.out_h || w != g.out_w) {
    throw Error("cuDNN pooling computes output shape (" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                std::to_string(h) + ", " + std::to_string(w) + "), expected (" + std::to_string(count) + ", " +
                std::to_string(channels_) + ", " + std::to_string(g.out_h) + ", " + std::to_string(g.out_w) + ")");
  }
  return shapes_.emplace(count, std::move(shapes)).first->second;
}

void CudnnPool::forward(const float* input, int count, float* output) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnPoolingForward(cudnn_, pooling_.get(), &kOne, shapes.input.get(), input, &kZero,
                                  shapes.output.get(), output));
}

void CudnnPool::backward(const float* input, const float* output, const float* doutput, int count, float* dinput) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnPoolingBackward(cudnn_, pooling_.get(), &kOne, shapes.output.get(), output, shapes.output.get(),
                                   doutput, shapes.input.get(), input, &kZero, shapes.input.get(), dinput));
}

}  // namespace train_gpu::cuda
