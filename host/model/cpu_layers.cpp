#include "host/model/cpu_layers.h"

#include <cstring>
#include <string>

#include "cuda/math/activation_math.h"
#include "host/common/error.h"
#include "host/model/cpu_conv_pool.h"
#include "host/model/cpu_gemm.h"

namespace train_gpu::cpu {

namespace {

void require(bool condition, const char* function, const std::string& what) {
  if (!condition) throw Error(std::string(function) + ": " + what);
}

}  // namespace

void relu_inplace(float* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) values[i] = math::relu(values[i]);
}

void relu_backward_inplace(const float* output, float* gradient, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) gradient[i] = math::relu_backward(output[i], gradient[i]);
}

void dense_forward(const float* input, int count, int in_features, int out_features, const float* weight,
                   const float* bias, float* output) {
  require(count >= 1 && in_features > 0 && out_features > 0, "dense_forward",
          "needs count >= 1 and positive feature counts");
  // Y (count, out) = X (count, in) · W^T, W stored (out, in)
  sgemm(Transpose::kNo, Transpose::kYes, count, out_features, in_features, input, in_features, weight, in_features,
        0.0f, output, out_features);
  if (bias == nullptr) return;
  for (int n = 0; n < count; ++n) {
    float* row = output + std::size_t(n) * out_features;
    for (int j = 0; j < out_features; ++j) row[j] += bias[j];
  }
}

void dense_backward(const float* input, const float* doutput, int count, int in_features, int out_features,
                    const float* weight, float* weight_grad, float* bias_grad, float* dinput) {
  require(count >= 1 && in_features > 0 && out_features > 0, "dense_backward",
          "needs count >= 1 and positive feature counts");
  // dW (out, in) = dY^T · X, dY (count, out), X (count, in)
  sgemm(Transpose::kYes, Transpose::kNo, out_features, in_features, count, doutput, out_features, input, in_features,
        0.0f, weight_grad, in_features);
  if (bias_grad != nullptr) {
    for (int j = 0; j < out_features; ++j) bias_grad[j] = 0.0f;
    for (int n = 0; n < count; ++n) {
      const float* row = doutput + std::size_t(n) * out_features;
      for (int j = 0; j < out_features; ++j) bias_grad[j] += row[j];
    }
  }
  if (dinput != nullptr) {
    // dX (count, in) = dY (count, out) · W (out, in)
    sgemm(Transpose::kNo, Transpose::kNo, count, in_features, out_features, doutput, out_features, weight,
          in_features, 0.0f, dinput, in_features);
  }
}

NetworkWorkspace::NetworkWorkspace(int max_batch_size) : max_batch(max_batch_size) {
  require(max_batch_size >= 1, "NetworkWorkspace", "max_batch must be at least 1");
  const std::size_t n = std::size_t(max_batch_size);
  images.resize(n * model::kImagePixels);
  pooled.resize(n * model::kFlatFeatures);
  pool_argmax.resize(n * model::kFlatFeatures);
  hidden.resize(n * model::kHidden);
  logits.resize(n * model::kClasses);
  dlogits.resize(n * model::kClasses);
  dhidden.resize(n * model::kHidden);
  dpooled.resize(n * model::kFlatFeatures);
  conv_gradients.resize(n * kConvGradientFloatsPerImage);
}

void network_forward(const float* parameters, int count, NetworkWorkspace& ws, float* conv_maps) {
  using namespace model;
  require(count >= 1 && count <= ws.max_batch, "network_forward",
          "batch of " + std::to_string(count) + " images; the workspace holds 1.." + std::to_string(ws.max_batch));
  conv_relu_pool_forward(ws.images.data(), count, parameters + kConvWeightOffset, parameters + kConvBiasOffset,
                         ws.pooled.data(), ws.pool_argmax.data(), conv_maps);
  dense_forward(ws.pooled.data(), count, kFlatFeatures, kHidden, parameters + kFc1WeightOffset,
                parameters + kFc1BiasOffset, ws.hidden.data());
  relu_inplace(ws.hidden.data(), std::size_t(count) * kHidden);
  dense_forward(ws.hidden.data(), count, kHidden, kClasses, parameters + kFc2WeightOffset,
                parameters + kFc2BiasOffset, ws.logits.data());
}

void network_backward(const float* parameters, int count, NetworkWorkspace& ws, float* gradients) {
  using namespace model;
  require(count >= 1 && count <= ws.max_batch, "network_backward",
          "batch of " + std::to_string(count) + " images; the workspace holds 1.." + std::to_string(ws.max_batch));
  dense_backward(ws.hidden.data(), ws.dlogits.data(), count, kHidden, kClasses, parameters + kFc2WeightOffset,
                 gradients + kFc2WeightOffset, gradients + kFc2BiasOffset, ws.dhidden.data());
  relu_backward_inplace(ws.hidden.data(), ws.dhidden.data(), std::size_t(count) * kHidden);
  // fc1's input gradient is needed: it is the only way back to the convolution's weights.
  dense_backward(ws.pooled.data(), ws.dhidden.data(), count, kFlatFeatures, kHidden, parameters + kFc1WeightOffset,
                 gradients + kFc1WeightOffset, gradients + kFc1BiasOffset, ws.dpooled.data());
  // The convolution's ReLU backward, applied to the pooled values instead of the maps: only a
  // window's winner receives gradient, and the winner's ReLU output is the pooled value, so
  // relu_backward(pooled, dpooled) routed to the winner equals relu_backward(maps, dmaps)
  // everywhere, on a quarter of the elements.
  relu_backward_inplace(ws.pooled.data(), ws.dpooled.data(), std::size_t(count) * kFlatFeatures);
  conv_relu_pool_backward_params(ws.images.data(), ws.dpooled.data(), ws.pool_argmax.data(), count,
                                 ws.conv_gradients.data(), gradients + kConvWeightOffset, gradients + kConvBiasOffset);
}

bool all_finite(const float* values, std::size_t count) {
  // Exponent bits all ones <=> NaN or infinity. An integer OR-reduction vectorizes, where
  // std::isfinite in a loop with an early exit would not.
  uint32_t nonfinite = 0;
  for (std::size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    nonfinite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return nonfinite == 0;
}

}  // namespace train_gpu::cpu
