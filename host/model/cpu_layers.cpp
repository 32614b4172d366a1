#include "host/model/cpu_layers.h"

#include <cblas.h>

#include <cstring>
#include <string>

#include "cuda/math/activation_math.h"
#include "host/common/error.h"

namespace train_gpu::cpu {

namespace {

void require(bool condition, const char* function, const std::string& what) {
  if (!condition) throw Error(std::string(function) + ": " + what);
}

// Sum of values[0, count) in 8 interleaved float accumulators: the lanes vectorize (a single
// running sum is a serial chain of dependent adds) and each accumulates 1/8 of the terms.
float lane_sum(const float* values, std::size_t count) {
  float lanes[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    for (int j = 0; j < 8; ++j) lanes[j] += values[i + std::size_t(j)];
  }
  for (; i < count; ++i) lanes[0] += values[i];
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

// Branch-free selection on bit patterns. The pooling loops pick values by comparison; written as
// `c ? x : y` on floats, GCC (with the default -ftrapping-math) keeps them scalar with a branch
// each, and on real data which of four positions wins is a coin toss. As masks on the bit
// patterns the loops vectorize, and the selected value is bit-for-bit the one `?:` would give.
uint32_t mask_if(bool condition) { return 0u - static_cast<uint32_t>(condition); }
uint32_t select_bits(uint32_t mask, uint32_t if_set, uint32_t otherwise) { return (if_set & mask) | (otherwise & ~mask); }
uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

void im2col_3x3(const float* images, int count, int side, float* columns) {
  require(count >= 0 && side >= model::kConvKernel, "im2col_3x3", "needs count >= 0 and side >= 3");
  const int out_side = side - model::kConvKernel + 1;
  const std::size_t image_size = std::size_t(side) * side;
  const std::size_t plane = std::size_t(out_side) * out_side;
  const std::size_t row_length = std::size_t(count) * plane;
  for (int ky = 0; ky < model::kConvKernel; ++ky) {
    for (int kx = 0; kx < model::kConvKernel; ++kx) {
      float* row = columns + std::size_t(ky * model::kConvKernel + kx) * row_length;
      for (int n = 0; n < count; ++n) {
        const float* image = images + std::size_t(n) * image_size;
        for (int y = 0; y < out_side; ++y) {
          std::memcpy(row + std::size_t(n) * plane + std::size_t(y) * out_side,
                      image + std::size_t(y + ky) * side + kx, sizeof(float) * std::size_t(out_side));
        }
      }
    }
  }
}

void conv_forward_relu(const float* columns, int count, int out_side, int filters, const float* weight,
                       const float* bias, float* output) {
  require(count >= 1 && out_side > 0 && filters > 0, "conv_forward_relu", "needs count >= 1, out_side > 0, filters > 0");
  const int length = count * out_side * out_side;
  // Y (filters, count*plane) = W (filters, 9) · columns (9, count*plane)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, filters, length, kConvTaps, 1.0f, weight, kConvTaps, columns,
              length, 0.0f, output, length);
  for (int f = 0; f < filters; ++f) {
    float* row = output + std::size_t(f) * length;
    const float b = bias[f];
    for (int p = 0; p < length; ++p) row[p] = math::relu(row[p] + b);
  }
}

void conv_backward_params(const float* columns, const float* doutput, int count, int out_side, int filters,
                          float* weight_grad, float* bias_grad) {
  require(count >= 1 && out_side > 0 && filters > 0, "conv_backward_params",
          "needs count >= 1, out_side > 0, filters > 0");
  const int length = count * out_side * out_side;
  // dW (filters, 9) = sum over images n of dY_n (filters, plane) · columns_n^T (plane, 9), each
  // issued as its column-major twin dW^T (9, filters) (+)= columns_n · dY_n^T. Per image, not one
  // call with K = count*plane: a 9 x 32 output is too small to split between threads, and
  // OpenBLAS's threaded path for it measured 1.4x slower than its single-threaded one, which it
  // picks by itself for these per-image sizes.
  const int plane = out_side * out_side;
  for (int n = 0; n < count; ++n) {
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, kConvTaps, filters, plane, 1.0f,
                columns + std::size_t(n) * plane, length, doutput + std::size_t(n) * plane, length,
                n == 0 ? 0.0f : 1.0f, weight_grad, kConvTaps);
  }
  for (int f = 0; f < filters; ++f) bias_grad[f] = lane_sum(doutput + std::size_t(f) * length, std::size_t(length));
}

void maxpool2x2_forward(const float* input, int count, int channels, int side, float* output, uint8_t* argmax) {
  require(count >= 0 && channels > 0 && side > 0 && side % 2 == 0, "maxpool2x2_forward",
          "needs count >= 0, channels > 0 and an even side");
  const int half = side / 2;
  const std::size_t plane = std::size_t(side) * side, pooled_plane = std::size_t(half) * half;
  // Channel-major loops walk the large CNHW side contiguously; the NCHW side is 4x smaller.
  for (int c = 0; c < channels; ++c) {
    for (int n = 0; n < count; ++n) {
      const float* in = input + (std::size_t(c) * count + n) * plane;          // CNHW
      const std::size_t out_offset = (std::size_t(n) * channels + c) * pooled_plane;  // NCHW
      float* out = output + out_offset;
      uint8_t* winner = argmax + out_offset;
      for (int py = 0; py < half; ++py) {
        const float* row0 = in + std::size_t(2 * py) * side;
        const float* row1 = row0 + side;
        for (int px = 0; px < half; ++px) {
          // Strict '>' keeps the first maximum on ties.
          uint32_t best = float_bits(row0[2 * px]), index = 0;
          uint32_t take = mask_if(row0[2 * px + 1] > bits_float(best));
          best = select_bits(take, float_bits(row0[2 * px + 1]), best);
          index = select_bits(take, 1u, index);
          take = mask_if(row1[2 * px] > bits_float(best));
          best = select_bits(take, float_bits(row1[2 * px]), best);
          index = select_bits(take, 2u, index);
          take = mask_if(row1[2 * px + 1] > bits_float(best));
          best = select_bits(take, float_bits(row1[2 * px + 1]), best);
          index = select_bits(take, 3u, index);
          out[py * half + px] = bits_float(best);
          winner[py * half + px] = static_cast<uint8_t>(index);
        }
      }
    }
  }
}

void maxpool2x2_backward(const float* doutput, const uint8_t* argmax, int count, int channels, int side,
                         float* dinput) {
  require(count >= 0 && channels > 0 && side > 0 && side % 2 == 0, "maxpool2x2_backward",
          "needs count >= 0, channels > 0 and an even side");
  const int half = side / 2;
  const std::size_t plane = std::size_t(side) * side, pooled_plane = std::size_t(half) * half;
  // Channel-major loops walk the large CNHW side contiguously; the NCHW side is 4x smaller.
  for (int c = 0; c < channels; ++c) {
    for (int n = 0; n < count; ++n) {
      const std::size_t out_offset = (std::size_t(n) * channels + c) * pooled_plane;  // NCHW
      const float* dout = doutput + out_offset;
      const uint8_t* winner = argmax + out_offset;
      float* din = dinput + (std::size_t(c) * count + n) * plane;  // CNHW
      for (int py = 0; py < half; ++py) {
        float* row0 = din + std::size_t(2 * py) * side;
        float* row1 = row0 + side;
        for (int px = 0; px < half; ++px) {
          const uint32_t g = float_bits(dout[py * half + px]);
          const uint32_t k = winner[py * half + px];
          row0[2 * px] = bits_float(g & mask_if(k == 0));  // +0.0f where another position won
          row0[2 * px + 1] = bits_float(g & mask_if(k == 1));
          row1[2 * px] = bits_float(g & mask_if(k == 2));
          row1[2 * px + 1] = bits_float(g & mask_if(k == 3));
        }
      }
    }
  }
}

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
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count, out_features, in_features, 1.0f, input, in_features,
              weight, in_features, 0.0f, output, out_features);
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
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_features, in_features, count, 1.0f, doutput, out_features,
              input, in_features, 0.0f, weight_grad, in_features);
  for (int j = 0; j < out_features; ++j) bias_grad[j] = 0.0f;
  for (int n = 0; n < count; ++n) {
    const float* row = doutput + std::size_t(n) * out_features;
    for (int j = 0; j < out_features; ++j) bias_grad[j] += row[j];
  }
  if (dinput != nullptr) {
    // dX (count, in) = dY (count, out) · W (out, in)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, count, in_features, out_features, 1.0f, doutput,
                out_features, weight, in_features, 0.0f, dinput, in_features);
  }
}

NetworkWorkspace::NetworkWorkspace(int max_batch_size) : max_batch(max_batch_size) {
  require(max_batch_size >= 1, "NetworkWorkspace", "max_batch must be at least 1");
  const std::size_t n = std::size_t(max_batch_size);
  images.resize(n * model::kImagePixels);
  columns.resize(std::size_t(kConvTaps) * n * model::kConvSide * model::kConvSide);
  conv_relu.resize(n * model::kConvOutputs);
  pooled.resize(n * model::kFlatFeatures);
  pool_argmax.resize(n * model::kFlatFeatures);
  hidden.resize(n * model::kHidden);
  logits.resize(n * model::kClasses);
  dlogits.resize(n * model::kClasses);
  dhidden.resize(n * model::kHidden);
  dpooled.resize(n * model::kFlatFeatures);
  dconv.resize(n * model::kConvOutputs);
}

void network_forward(const float* parameters, int count, NetworkWorkspace& ws) {
  using namespace model;
  require(count >= 1 && count <= ws.max_batch, "network_forward",
          "batch of " + std::to_string(count) + " images; the workspace holds 1.." + std::to_string(ws.max_batch));
  im2col_3x3(ws.images.data(), count, kImageSide, ws.columns.data());
  conv_forward_relu(ws.columns.data(), count, kConvSide, kConvFilters, parameters + kConvWeightOffset,
                    parameters + kConvBiasOffset, ws.conv_relu.data());
  maxpool2x2_forward(ws.conv_relu.data(), count, kConvFilters, kConvSide, ws.pooled.data(), ws.pool_argmax.data());
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
  // The convolution's ReLU backward, applied before the pooling's instead of after it: only a
  // window's winner receives gradient, and the winner's ReLU output is the pooled value, so
  // relu_backward(pooled, dpooled) routed to the winner equals relu_backward(conv_relu, dconv)
  // everywhere, on a quarter of the elements.
  relu_backward_inplace(ws.pooled.data(), ws.dpooled.data(), std::size_t(count) * kFlatFeatures);
  maxpool2x2_backward(ws.dpooled.data(), ws.pool_argmax.data(), count, kConvFilters, kConvSide, ws.dconv.data());
  conv_backward_params(ws.columns.data(), ws.dconv.data(), count, kConvSide, kConvFilters,
                       gradients + kConvWeightOffset, gradients + kConvBiasOffset);
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
