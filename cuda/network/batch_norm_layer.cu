#include "cuda/network/batch_norm_layer.h"

#include "cuda/check.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// moving = moving * momentum + batch * (1 - momentum) per channel, with the batch's biased
// variance recovered from cuDNN's unbiased one: var * (N - 1) / N over N = count * H * W
// elements per channel (0 for a single element, whose variance cuDNN cannot make unbiased).
__global__ void moving_statistics_kernel(float* moving_mean, float* moving_variance, const float* batch_mean,
                                         const float* batch_unbiased_variance, int channels, long long elements,
                                         float momentum) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= channels) return;
  const float biased = elements > 1 ? batch_unbiased_variance[c] * (static_cast<float>(elements - 1) /
                                                                    static_cast<float>(elements))
                                    : 0.0f;
  moving_mean[c] = moving_mean[c] * momentum + batch_mean[c] * (1.0f - momentum);
  moving_variance[c] = moving_variance[c] * momentum + biased * (1.0f - momentum);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layer

BatchNormLayer::BatchNormLayer(const model::NetworkSpec& spec, int layer_index, cudnnHandle_t cudnn)
    : layer_(spec.layers.at(std::size_t(layer_index))), cudnn_(cudnn), channel_descriptor_(make_tensor_descriptor()) {
  if (layer_.kind != model::LayerKind::kBatchNorm || layer_.parameter_tensors != 2 || layer_.buffer_tensors != 2) {
    throw Error("cuda BatchNormLayer: layer " + layer_.name +
                " is not a BatchNormalization with gamma, beta and moving statistics");
  }
  // cuDNN 9 defines CUDNN_BN_MIN_EPSILON as 0.0 (cuDNN 7 had 1e-5), and the spec already requires
  // epsilon > 0: this only guards a build against headers with a floor, named from the header.
  if (double(layer_.epsilon) < CUDNN_BN_MIN_EPSILON) {
    throw Error("layer " + layer_.name + " (BatchNormalization): epsilon " + std::to_string(layer_.epsilon) +
                " is below this cuDNN's minimum " + std::to_string(CUDNN_BN_MIN_EPSILON) +
                " (CUDNN_BN_MIN_EPSILON); use a larger epsilon, or train with --device cpu");
  }
  gamma_offset_ = spec.parameter_offset(layer_, 0);
  beta_offset_ = spec.parameter_offset(layer_, 1);
  mean_offset_ = spec.buffers.at(std::size_t(layer_.first_buffer)).offset;
  variance_offset_ = spec.buffers.at(std::size_t(layer_.first_buffer) + 1).offset;
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(channel_descriptor_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                         layer_.input.channels, 1, 1));
  statistics_ = DeviceBuffer<float>(4 * std::size_t(layer_.input.channels), "batch normalization statistics");
}

cudnnTensorDescriptor_t BatchNormLayer::data_descriptor(int count) {
  auto found = data_descriptors_.find(count);
  if (found == data_descriptors_.end()) {
    TensorDescriptor descriptor = make_tensor_descriptor();
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(descriptor.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count,
                                           layer_.input.channels, layer_.input.height, layer_.input.width));
    found = data_descriptors_.emplace(count, std::move(descriptor)).first;
  }
  return found->second.get();
}

void BatchNormLayer::forward(const LayerForward& args) {
  const cudnnTensorDescriptor_t data = data_descriptor(args.count);
  const float* gamma = args.parameters + gamma_offset_;
  const float* beta = args.parameters + beta_offset_;
  float* moving_mean = args.buffers + mean_offset_;
  float* moving_variance = args.buffers + variance_offset_;
  const double epsilon = double(layer_.epsilon);
  if (!args.training) {
    CUDNN_CHECK(cudnnBatchNormalizationForwardInference(cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, data,
                                                        args.input, data, args.output, channel_descriptor_.get(), gamma,
                                                        beta, moving_mean, moving_variance, epsilon));
    return;
  }
  const int channels = layer_.input.channels;
  float* batch_mean = statistics_.data();
  float* batch_variance = batch_mean + channels;
  float* saved_mean = batch_variance + channels;
  float* saved_inverse_deviation = saved_mean + channels;
  // Factor 1 writes (1 - 1) * previous + batch: cleared first, so a NaN left by an earlier
  // non-finite batch cannot survive as 0 * NaN.
  CUDA_CHECK(cudaMemsetAsync(batch_mean, 0, 2 * std::size_t(channels) * sizeof(float), args.stream));
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, data, args.input,
                                                     data, args.output, channel_descriptor_.get(), gamma, beta, 1.0,
                                                     batch_mean, batch_variance, epsilon, saved_mean,
                                                     saved_inverse_deviation));
  const long long elements = static_cast<long long>(args.count) * layer_.input.height * layer_.input.width;
  constexpr int kThreads = 128;
  moving_statistics_kernel<<<(channels + kThreads - 1) / kThreads, kThreads, 0, args.stream>>>(
      moving_mean, moving_variance, batch_mean, batch_variance, channels, elements, layer_.momentum);
  CUDA_CHECK(cudaGetLastError());
}

void BatchNormLayer::backward(const LayerBackward& args) {
  const cudnnTensorDescriptor_t data = data_descriptor(args.count);
  const int channels = layer_.input.channels;
  const float* saved_mean = statistics_.data() + 2 * std::size_t(channels);
  const float* saved_inverse_deviation = saved_mean + channels;
  // dX, dgamma, dbeta overwritten (all betas 0). cuDNN always writes dX; the network allocates
  // every activation gradient, so an unused one costs only the write.
  CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, data,
                                              args.input, data, args.doutput, data, args.dinput,
                                              channel_descriptor_.get(), args.parameters + gamma_offset_,
                                              args.gradients + gamma_offset_, args.gradients + beta_offset_,
                                              double(layer_.epsilon), saved_mean, saved_inverse_deviation));
}

}  // namespace train_gpu::cuda
