// One thread per output element forward, one per input element backward (the gather form of
// window_pool_math.h), grid-stride loops over the (count, C) planes.
#include "cuda/network/pooling_layer.h"

#include "cuda/check.h"
#include "cuda/kernels/block_split.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/layers/pool.h"
#include "cuda/network/layer_plan.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void max_pool_forward_kernel(const float* input, float* output, int* winners, size_t planes,
                                        math::PoolGeometry g) {
  const size_t out_plane = static_cast<size_t>(g.out_h) * g.out_w;
  const size_t total = planes * out_plane;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t plane = i / out_plane;
    const int o = static_cast<int>(i % out_plane);
    const math::PoolMax best =
        math::max_pool_window(input + plane * static_cast<size_t>(g.in_h) * g.in_w, g, o / g.out_w, o % g.out_w);
    output[i] = best.value;
    winners[i] = best.winner;
  }
}

__global__ void average_pool_forward_kernel(const float* input, float* output, size_t planes, math::PoolGeometry g) {
  const size_t out_plane = static_cast<size_t>(g.out_h) * g.out_w;
  const size_t total = planes * out_plane;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t plane = i / out_plane;
    const int o = static_cast<int>(i % out_plane);
    output[i] = math::average_pool_window(input + plane * static_cast<size_t>(g.in_h) * g.in_w, g, o / g.out_w,
                                          o % g.out_w);
  }
}

__global__ void pool_backward_kernel(const float* doutput, const int* winners /* null: average */, float* dinput,
                                     size_t planes, math::PoolGeometry g) {
  const size_t in_plane = static_cast<size_t>(g.in_h) * g.in_w;
  const size_t out_plane = static_cast<size_t>(g.out_h) * g.out_w;
  const size_t total = planes * in_plane;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t plane = i / in_plane;
    const int p = static_cast<int>(i % in_plane);
    const float* plane_doutput = doutput + plane * out_plane;
    dinput[i] = winners != nullptr
                    ? math::max_pool_input_gradient(plane_doutput, winners + plane * out_plane, g, p / g.in_w, p % g.in_w)
                    : math::average_pool_input_gradient(plane_doutput, g, p / g.in_w, p % g.in_w);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layer

PoolingLayer::PoolingLayer(const model::NetworkSpec& spec, int layer_index, int max_batch, cudnnHandle_t cudnn,
                           const LayerFusion& fusion) {
  const model::LayerSpec& layer = spec.layers.at(std::size_t(layer_index));
  if (layer.kind != model::LayerKind::kMaxPool2D && layer.kind != model::LayerKind::kAvgPool2D) {
    throw Error("cuda PoolingLayer: layer " + layer.name + " is not a pooling layer");
  }
  max_ = layer.kind == model::LayerKind::kMaxPool2D;
  channels_ = layer.input.channels;
  geometry_ = pool_geometry(layer);
  const std::size_t outputs = std::size_t(max_batch) * std::size_t(layer.output.size());
  if (fusion.pools_bias_relu) {
    if (layer_index == 0 || !fusion_detail::fused_pool_shape(layer) || cudnn == nullptr) {
      throw Error("cuda PoolingLayer: layer " + layer.name + " cannot take a convolution's bias and ReLU");
    }
    conv_bias_offset_ = spec.bias_offset(spec.layers[std::size_t(layer_index) - 1]);
    argmax_ = DeviceBuffer<uint8_t>(outputs, "pooling argmax");
    // Zeroed on the network's stream (the one the handle is bound to), ahead of every backward.
    cudaStream_t stream = nullptr;
    CUDNN_CHECK(cudnnGetStream(cudnn, &stream));
    channel_sums_ = ChannelSumBuffers(channels_, stream);
  } else if (fusion.cudnn_pooling) {
    if (cudnn == nullptr) throw Error("cuda PoolingLayer: --pooling cudnn without a cuDNN handle");
    cudnn_pool_ = std::make_unique<CudnnPool>(cudnn, max_ ? CudnnPoolMode::kMax : CudnnPoolMode::kAverage, channels_,
                                              geometry_);
  } else if (max_) {
    winners_ = DeviceBuffer<int>(outputs, "pooling winners");
  }
}

void PoolingLayer::forward(const LayerForward& args) {
  if (conv_bias_offset_ >= 0) {
    // P = maxpool(relu(Z + b)) from the convolution's raw Z; with keep_outputs Z becomes relu(Z + b)
    // in place (the network's own activation array, so writing through the input is ours to do).
    launch_bias_relu_maxpool2x2_forward(args.input, args.parameters + conv_bias_offset_, args.count, channels_,
                                        geometry_.in_h, args.output, argmax_.data(),
                                        args.keep_outputs ? const_cast<float*>(args.input) : nullptr, args.stream);
    return;
  }
  if (cudnn_pool_) {
    cudnn_pool_->forward(args.input, args.count, args.output);
    return;
  }
  const std::size_t planes = std::size_t(args.count) * std::size_t(channels_);
  const std::size_t outputs = planes * std::size_t(geometry_.out_h) * std::size_t(geometry_.out_w);
  if (max_) {
    max_pool_forward_kernel<<<blocks_for(outputs), kThreadsPerBlock, 0, args.stream>>>(
        args.input, args.output, winners_.data(), planes, geometry_);
  } else {
    average_pool_forward_kernel<<<blocks_for(outputs), kThreadsPerBlock, 0, args.stream>>>(args.input, args.output,
                                                                                          planes, geometry_);
  }
  CUDA_CHECK(cudaGetLastError());
}

void PoolingLayer::backward(const LayerBackward& args) {
  if (conv_bias_offset_ >= 0) {
    // dZ = route(dP) where the winner's relu(Z + b) > 0 (read from P), db = per-channel sums of dZ
    launch_maxpool2x2_relu_backward_bias(args.doutput, argmax_.data(), args.output, args.count, channels_,
                                         geometry_.in_h, args.dinput, args.gradients + conv_bias_offset_,
                                         channel_sums_.scratch(),
                                         args.stream);
    return;
  }
  if (!args.need_dinput) return;
  if (cudnn_pool_) {
    cudnn_pool_->backward(args.input, args.output, args.doutput, args.count, args.dinput);
    return;
  }
  const std::size_t planes = std::size_t(args.count) * std::size_t(channels_);
  const std::size_t inputs = planes * std::size_t(geometry_.in_h) * std::size_t(geometry_.in_w);
  pool_backward_kernel<<<blocks_for(inputs), kThreadsPerBlock, 0, args.stream>>>(
      args.doutput, max_ ? winners_.data() : nullptr, args.dinput, planes, geometry_);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
