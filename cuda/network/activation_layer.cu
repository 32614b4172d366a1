// One elementwise kernel per direction, templated on the function: each is a single
// memory-bound pass, and the template keeps the switch out of the loop.
#include "cuda/network/activation_layer.h"

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/activation_math.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

using model::Activation;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

template <Activation kFunction>
__device__ float activate(float x) {
  if constexpr (kFunction == Activation::kRelu) return math::relu(x);
  if constexpr (kFunction == Activation::kTanh) return math::tanh_activation(x);
  if constexpr (kFunction == Activation::kSigmoid) return math::sigmoid(x);
  return x;
}

template <Activation kFunction>
__device__ float activate_backward(float y, float dy) {
  if constexpr (kFunction == Activation::kRelu) return math::relu_backward(y, dy);
  if constexpr (kFunction == Activation::kTanh) return math::tanh_backward(y, dy);
  if constexpr (kFunction == Activation::kSigmoid) return math::sigmoid_backward(y, dy);
  return dy;
}

template <Activation kFunction>
__global__ void activation_forward_kernel(float* values, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    values[i] = activate<kFunction>(values[i]);
  }
}

template <Activation kFunction>
__global__ void activation_backward_kernel(const float* output, float* gradient, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    gradient[i] = activate_backward<kFunction>(output[i], gradient[i]);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_activation_forward(Activation activation, float* values, std::size_t count, cudaStream_t stream) {
  if (count == 0) return;
  const unsigned int blocks = blocks_for(count);
  switch (activation) {
    case Activation::kLinear:
    case Activation::kSoftmax:  // folded into the loss: the layer's output is the logits
      return;
    case Activation::kRelu: activation_forward_kernel<Activation::kRelu><<<blocks, kThreadsPerBlock, 0, stream>>>(values, count); break;
    case Activation::kTanh: activation_forward_kernel<Activation::kTanh><<<blocks, kThreadsPerBlock, 0, stream>>>(values, count); break;
    case Activation::kSigmoid:
      activation_forward_kernel<Activation::kSigmoid><<<blocks, kThreadsPerBlock, 0, stream>>>(values, count);
      break;
  }
  CUDA_CHECK(cudaGetLastError());
}

void launch_activation_backward(Activation activation, const float* output, float* gradient, std::size_t count,
                                cudaStream_t stream) {
  if (count == 0) return;
  const unsigned int blocks = blocks_for(count);
  switch (activation) {
    case Activation::kLinear:
    case Activation::kSoftmax:
      return;
    case Activation::kRelu:
      activation_backward_kernel<Activation::kRelu><<<blocks, kThreadsPerBlock, 0, stream>>>(output, gradient, count);
      break;
    case Activation::kTanh:
      activation_backward_kernel<Activation::kTanh><<<blocks, kThreadsPerBlock, 0, stream>>>(output, gradient, count);
      break;
    case Activation::kSigmoid:
      activation_backward_kernel<Activation::kSigmoid><<<blocks, kThreadsPerBlock, 0, stream>>>(output, gradient, count);
      break;
  }
  CUDA_CHECK(cudaGetLastError());
}

ActivationLayer::ActivationLayer(const model::LayerSpec& layer)
    : activation_(layer.activation), size_(std::size_t(layer.output.size())) {
  if (layer.kind != model::LayerKind::kActivation || layer.input != layer.output) {
    throw Error("cuda ActivationLayer: layer " + layer.name + " is not an Activation layer");
  }
}

void ActivationLayer::forward(const LayerForward& args) {
  const std::size_t count = std::size_t(args.count) * size_;
  CUDA_CHECK(cudaMemcpyAsync(args.output, args.input, count * sizeof(float), cudaMemcpyDeviceToDevice, args.stream));
  launch_activation_forward(activation_, args.output, count, args.stream);
}

void ActivationLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  const std::size_t count = std::size_t(args.count) * size_;
  launch_activation_backward(activation_, args.output, args.doutput, count, args.stream);
  CUDA_CHECK(cudaMemcpyAsync(args.dinput, args.doutput, count * sizeof(float), cudaMemcpyDeviceToDevice, args.stream));
}

}  // namespace train_gpu::cuda
