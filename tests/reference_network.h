// A float64 reference of the tutorial's CNN, written as the plainest loops from the definitions
// (no im2col, no BLAS), for the CPU tests: each layer, the whole forward/backward, and a full
// Adam step. Layout as in host/model/model_spec.h. Header-only; used by cpu_layers_test,
// gradient_check_test and cpu_backend_test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "host/common/random.h"
#include "host/model/model_spec.h"

namespace train_gpu::reference {

using model::kClasses;
using model::kConvFilters;
using model::kConvKernel;
using model::kConvOutputs;
using model::kConvSide;
using model::kFlatFeatures;
using model::kHidden;
using model::kImagePixels;
using model::kImageSide;
using model::kParameterCount;
using model::kPoolSide;

// Pre-activation of a 3x3 valid convolution of `count` single-channel (side, side) images:
// output (count, filters, side-2, side-2). weight (filters, 3, 3), bias (filters).
inline std::vector<double> conv_forward(const std::vector<double>& images, int count, int side, int filters,
                                        const double* weight, const double* bias) {
  const int out = side - kConvKernel + 1;
  std::vector<double> output(std::size_t(count) * filters * out * out);
  for (int n = 0; n < count; ++n)
    for (int f = 0; f < filters; ++f)
      for (int y = 0; y < out; ++y)
        for (int x = 0; x < out; ++x) {
          double sum = bias[f];
          for (int ky = 0; ky < kConvKernel; ++ky)
            for (int kx = 0; kx < kConvKernel; ++kx)
              sum += weight[(f * kConvKernel + ky) * kConvKernel + kx] *
                     images[(std::size_t(n) * side + y + ky) * side + x + kx];
          output[((std::size_t(n) * filters + f) * out + y) * out + x] = sum;
        }
  return output;
}

// Weight and bias gradients of that convolution from dpre (count, filters, out, out), the
// gradient w.r.t. its pre-activation.
inline void conv_backward(const std::vector<double>& images, const std::vector<double>& dpre, int count, int side,
                          int filters, double* weight_grad, double* bias_grad) {
  const int out = side - kConvKernel + 1;
  std::fill(weight_grad, weight_grad + filters * kConvKernel * kConvKernel, 0.0);
  std::fill(bias_grad, bias_grad + filters, 0.0);
  for (int n = 0; n < count; ++n)
    for (int f = 0; f < filters; ++f)
      for (int y = 0; y < out; ++y)
        for (int x = 0; x < out; ++x) {
          const double g = dpre[((std::size_t(n) * filters + f) * out + y) * out + x];
          bias_grad[f] += g;
          for (int ky = 0; ky < kConvKernel; ++ky)
            for (int kx = 0; kx < kConvKernel; ++kx)
              weight_grad[(f * kConvKernel + ky) * kConvKernel + kx] +=
                  g * images[(std::size_t(n) * side + y + ky) * side + x + kx];
        }
}

// 2x2/2 max pooling of (maps, side, side): returns (maps, side/2, side/2); winner receives the
// flat input index of each window's first maximum.
inline std::vector<double> maxpool_forward(const std::vector<double>& input, int maps, int side,
                                           std::vector<std::size_t>& winner) {
  const int half = side / 2;
  std::vector<double> output(std::size_t(maps) * half * half);
  winner.assign(output.size(), 0);
  for (int m = 0; m < maps; ++m)
    for (int py = 0; py < half; ++py)
      for (int px = 0; px < half; ++px) {
        const std::size_t o = (std::size_t(m) * half + py) * half + px;
        double best = -INFINITY;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            const std::size_t i = (std::size_t(m) * side + 2 * py + dy) * side + 2 * px + dx;
            if (input[i] > best) {
              best = input[i];
              winner[o] = i;
            }
          }
        output[o] = best;
      }
  return output;
}

// output (count, out) = input (count, in) · weight^T + bias, weight (out, in).
inline std::vector<double> dense_forward(const std::vector<double>& input, int count, int in, int out,
                                         const double* weight, const double* bias) {
  std::vector<double> output(std::size_t(count) * out);
  for (int n = 0; n < count; ++n)
    for (int j = 0; j < out; ++j) {
      double sum = bias[j];
      for (int i = 0; i < in; ++i) sum += input[std::size_t(n) * in + i] * weight[std::size_t(j) * in + i];
      output[std::size_t(n) * out + j] = sum;
    }
  return output;
}

// Gradients of that layer from doutput (count, out); dinput skipped when null.
inline void dense_backward(const std::vector<double>& input, const std::vector<double>& doutput, int count, int in,
                           int out, const double* weight, double* weight_grad, double* bias_grad,
                           std::vector<double>* dinput) {
  std::fill(weight_grad, weight_grad + std::size_t(out) * in, 0.0);
  std::fill(bias_grad, bias_grad + out, 0.0);
  if (dinput != nullptr) dinput->assign(std::size_t(count) * in, 0.0);
  for (int n = 0; n < count; ++n)
    for (int j = 0; j < out; ++j) {
      const double g = doutput[std::size_t(n) * out + j];
      bias_grad[j] += g;
      for (int i = 0; i < in; ++i) {
        weight_grad[std::size_t(j) * in + i] += g * input[std::size_t(n) * in + i];
        if (dinput != nullptr) (*dinput)[std::size_t(n) * in + i] += g * weight[std::size_t(j) * in + i];
      }
    }
}

// Everything the network computes for one batch.
struct Network {
  std::vector<double> conv_pre, conv_relu, pooled, hidden_pre, hidden, logits;
  std::vector<std::size_t> pool_winner;  // flat index into conv_relu
  std::vector<double> losses;            // per sample
  double mean_loss = 0;
  std::vector<int> predicted;            // first argmax of each row of logits

  // Whether `other` took the same side of every ReLU kink and the same pooling winners: two
  // forward passes that agree lie on one smooth piece of the loss, where a finite difference
  // between them is valid.
  bool same_piece(const Network& other) const {
    if (pool_winner != other.pool_winner) return false;
    for (std::size_t i = 0; i < conv_pre.size(); ++i)
      if ((conv_pre[i] > 0) != (other.conv_pre[i] > 0)) return false;
    for (std::size_t i = 0; i < hidden_pre.size(); ++i)
      if ((hidden_pre[i] > 0) != (other.hidden_pre[i] > 0)) return false;
    return true;
  }
};

inline Network forward(const std::vector<double>& params, const std::vector<double>& images,
                       const std::vector<int>& labels, int count) {
  using namespace model;
  Network net;
  net.conv_pre = conv_forward(images, count, kImageSide, kConvFilters, &params[kConvWeightOffset],
                              &params[kConvBiasOffset]);
  net.conv_relu = net.conv_pre;
  for (double& v : net.conv_relu) v = std::max(v, 0.0);
  net.pooled = maxpool_forward(net.conv_relu, count * kConvFilters, kConvSide, net.pool_winner);
  net.hidden_pre = dense_forward(net.pooled, count, kFlatFeatures, kHidden, &params[kFc1WeightOffset],
                                 &params[kFc1BiasOffset]);
  net.hidden = net.hidden_pre;
  for (double& v : net.hidden) v = std::max(v, 0.0);
  net.logits = dense_forward(net.hidden, count, kHidden, kClasses, &params[kFc2WeightOffset], &params[kFc2BiasOffset]);
  net.losses.resize(std::size_t(count));
  net.predicted.resize(std::size_t(count));
  net.mean_loss = 0;
  for (int n = 0; n < count; ++n) {
    const double* z = &net.logits[std::size_t(n) * kClasses];
    const double z_max = *std::max_element(z, z + kClasses);
    net.predicted[std::size_t(n)] = int(std::max_element(z, z + kClasses) - z);  // first maximum
    double sum = 0;
    for (int j = 0; j < kClasses; ++j) sum += std::exp(z[j] - z_max);
    net.losses[std::size_t(n)] = z_max + std::log(sum) - z[labels[std::size_t(n)]];
    net.mean_loss += net.losses[std::size_t(n)] / count;
  }
  return net;
}

// Gradient of the batch's mean loss w.r.t. every parameter (arena layout).
inline std::vector<double> backward(const std::vector<double>& params, const std::vector<double>& images,
                                    const std::vector<int>& labels, int count, const Network& net) {
  using namespace model;
  std::vector<double> grads(kParameterCount, 0.0);
  std::vector<double> dlogits(std::size_t(count) * kClasses);
  for (int n = 0; n < count; ++n) {
    const double* z = &net.logits[std::size_t(n) * kClasses];
    const double z_max = *std::max_element(z, z + kClasses);
    double sum = 0;
    for (int j = 0; j < kClasses; ++j) sum += std::exp(z[j] - z_max);
    for (int j = 0; j < kClasses; ++j) {
      const double p = std::exp(z[j] - z_max) / sum;
      dlogits[std::size_t(n) * kClasses + j] = (p - (j == labels[std::size_t(n)] ? 1.0 : 0.0)) / count;
    }
  }
  std::vector<double> dhidden;
  dense_backward(net.hidden, dlogits, count, kHidden, kClasses, &params[kFc2WeightOffset], &grads[kFc2WeightOffset],
                 &grads[kFc2BiasOffset], &dhidden);
  for (std::size_t i = 0; i < dhidden.size(); ++i) dhidden[i] = net.hidden_pre[i] > 0 ? dhidden[i] : 0.0;
  std::vector<double> dpooled;
  dense_backward(net.pooled, dhidden, count, kFlatFeatures, kHidden, &params[kFc1WeightOffset],
                 &grads[kFc1WeightOffset], &grads[kFc1BiasOffset], &dpooled);
  std::vector<double> dconv(net.conv_pre.size(), 0.0);
  for (std::size_t o = 0; o < dpooled.size(); ++o) dconv[net.pool_winner[o]] += dpooled[o];
  for (std::size_t i = 0; i < dconv.size(); ++i) dconv[i] = net.conv_pre[i] > 0 ? dconv[i] : 0.0;
  conv_backward(images, dconv, count, kImageSide, kConvFilters, &grads[kConvWeightOffset], &grads[kConvBiasOffset]);
  return grads;
}

// Keras's Adam, in double, on every element: the same formula as cuda/math/adam_math.h.
inline void adam_step(std::vector<double>& params, std::vector<double>& m, std::vector<double>& v,
                      const std::vector<double>& grads, int64_t t, double lr = 1e-3, double beta1 = 0.9,
                      double beta2 = 0.999, double epsilon = 1e-7) {
  const double step_size = lr * std::sqrt(1 - std::pow(beta2, double(t))) / (1 - std::pow(beta1, double(t)));
  for (std::size_t i = 0; i < params.size(); ++i) {
    m[i] = beta1 * m[i] + (1 - beta1) * grads[i];
    v[i] = beta2 * v[i] + (1 - beta2) * grads[i] * grads[i];
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

inline std::vector<double> to_double(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}

// Seeded uint8 images and labels, and the same images scaled to [0,1] as the backends do.
struct RandomBatch {
  std::vector<uint8_t> pixels;  // (count, 28, 28)
  std::vector<uint8_t> labels;
  std::vector<int> int_labels;
  std::vector<double> images;   // pixels / 255
};

inline RandomBatch random_batch(int count, uint64_t seed) {
  RandomBatch batch;
  Rng rng(seed);
  batch.pixels.resize(std::size_t(count) * kImagePixels);
  for (auto& p : batch.pixels) p = static_cast<uint8_t>(rng.below(256));
  for (int n = 0; n < count; ++n) batch.labels.push_back(static_cast<uint8_t>(rng.below(kClasses)));
  batch.int_labels.assign(batch.labels.begin(), batch.labels.end());
  for (uint8_t p : batch.pixels) batch.images.push_back(double(static_cast<float>(p) / 255.0f));
  return batch;
}

}  // namespace train_gpu::reference
