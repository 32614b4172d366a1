// A float64 reference forward pass of any NetworkSpec, written as the plain loops of each layer's
// definition (Keras's semantics: TensorFlow same padding, average pooling without padded cells,
// BatchNormalization with the batch's biased variance in training and the moving statistics in
// evaluation, inverted dropout), for the CPU network's tests: its outputs check the float32
// layers, and central finite differences of its loss check their gradients.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include "host/model/network_spec.h"

namespace train_gpu::reference {

// A training forward pass's dropout masks, by layer index: (count, features), 1 kept. A Dropout
// layer without a mask here is the identity (evaluation).
using DropoutMasks = std::map<int, std::vector<uint8_t>>;

struct SpecPass {
  bool training = false;
  DropoutMasks masks;
};

inline double apply_activation(model::Activation activation, double x) {
  switch (activation) {
    case model::Activation::kRelu: return std::max(x, 0.0);
    case model::Activation::kTanh: return std::tanh(x);
    case model::Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case model::Activation::kLinear:
    case model::Activation::kSoftmax: return x;  // softmax: folded into the loss
  }
  return x;
}

// Every layer's output for `count` images (count, input) of the spec: outputs[i] is layer i's
// (count, output). `parameters` and `buffers` in the spec's arena layouts.
inline std::vector<std::vector<double>> spec_forward(const model::NetworkSpec& spec, const std::vector<double>& parameters,
                                                     const std::vector<double>& buffers, const std::vector<double>& images,
                                                     int count, const SpecPass& pass) {
  using model::LayerKind;
  std::vector<std::vector<double>> outputs;
  const std::vector<double>* input = &images;
  for (std::size_t index = 0; index < spec.layers.size(); ++index) {
    const model::LayerSpec& layer = spec.layers[index];
    const model::Shape in = layer.input, out = layer.output;
    const std::size_t in_size = std::size_t(in.size()), out_size = std::size_t(out.size());
    std::vector<double> y(std::size_t(count) * out_size, 0.0);
    const std::vector<double>& x = *input;
    const auto at = [&](int n, int c, int h, int w) { return x[std::size_t(n) * in_size + (std::size_t(c) * in.height + h) * in.width + w]; };
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const std::size_t w0 = spec.parameters[std::size_t(layer.first_parameter)].offset;
        for (int n = 0; n < count; ++n)
          for (int f = 0; f < out.channels; ++f)
            for (int oy = 0; oy < out.height; ++oy)
              for (int ox = 0; ox < out.width; ++ox) {
                double sum = layer.use_bias ? parameters[spec.parameters[std::size_t(layer.first_parameter) + 1].offset + f] : 0.0;
                for (int c = 0; c < in.channels; ++c)
                  for (int ky = 0; ky < layer.kernel_h; ++ky)
                    for (int kx = 0; kx < layer.kernel_w; ++kx) {
                      const int iy = oy * layer.stride_h + ky - layer.pad_top, ix = ox * layer.stride_w + kx - layer.pad_left;
                      if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
                      sum += parameters[w0 + ((std::size_t(f) * in.channels + c) * layer.kernel_h + ky) * layer.kernel_w + kx] *
                             at(n, c, iy, ix);
                    }
                y[std::size_t(n) * out_size + (std::size_t(f) * out.height + oy) * out.width + ox] = apply_activation(layer.activation, sum);
              }
        break;
      }
      case LayerKind::kMaxPool2D:
      case LayerKind::kAvgPool2D:
        for (int n = 0; n < count; ++n)
          for (int c = 0; c < out.channels; ++c)
            for (int oy = 0; oy < out.height; ++oy)
              for (int ox = 0; ox < out.width; ++ox) {
                double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
                int cells = 0;
                for (int ky = 0; ky < layer.kernel_h; ++ky)
                  for (int kx = 0; kx < layer.kernel_w; ++kx) {
                    const int iy = oy * layer.stride_h + ky - layer.pad_top, ix = ox * layer.stride_w + kx - layer.pad_left;
                    if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;  // padded: never counted
                    best = std::max(best, at(n, c, iy, ix));
                    sum += at(n, c, iy, ix);
                    ++cells;
                  }
                y[std::size_t(n) * out_size + (std::size_t(c) * out.height + oy) * out.width + ox] =
                    layer.kind == LayerKind::kMaxPool2D ? best : sum / cells;
              }
        break;
      case LayerKind::kFlatten: y = x; break;
      case LayerKind::kDense: {
        const std::size_t w0 = spec.parameters[std::size_t(layer.first_parameter)].offset;
        for (int n = 0; n < count; ++n)
          for (std::size_t j = 0; j < out_size; ++j) {
            double sum = layer.use_bias ? parameters[spec.parameters[std::size_t(layer.first_parameter) + 1].offset + j] : 0.0;
            for (std::size_t i = 0; i < in_size; ++i) sum += parameters[w0 + j * in_size + i] * x[std::size_t(n) * in_size + i];
            y[std::size_t(n) * out_size + j] = apply_activation(layer.activation, sum);
          }
        break;
      }
      case LayerKind::kDropout: {
        const auto mask = pass.masks.find(int(index));
        for (std::size_t i = 0; i < y.size(); ++i) {
          y[i] = !pass.training || mask == pass.masks.end() ? x[i]
                 : mask->second[i] != 0                      ? x[i] / (1.0 - double(layer.rate))
                                                             : 0.0;
        }
        break;
      }
      case LayerKind::kBatchNorm: {
        const std::size_t gamma = spec.parameters[std::size_t(layer.first_parameter)].offset;
        const std::size_t beta = spec.parameters[std::size_t(layer.first_parameter) + 1].offset;
        const std::size_t moving_mean = spec.buffers[std::size_t(layer.first_buffer)].offset;
        const std::size_t moving_variance = spec.buffers[std::size_t(layer.first_buffer) + 1].offset;
        const std::size_t plane = std::size_t(in.height) * in.width;
        for (int c = 0; c < in.channels; ++c) {
          double mean = buffers[moving_mean + std::size_t(c)], variance = buffers[moving_variance + std::size_t(c)];
          if (pass.training) {
            double sum = 0.0, squares = 0.0;
            for (int n = 0; n < count; ++n)
              for (std::size_t p = 0; p < plane; ++p) sum += x[std::size_t(n) * in_size + std::size_t(c) * plane + p];
            mean = sum / double(std::size_t(count) * plane);
            for (int n = 0; n < count; ++n)
              for (std::size_t p = 0; p < plane; ++p) {
                const double d = x[std::size_t(n) * in_size + std::size_t(c) * plane + p] - mean;
                squares += d * d;
              }
            variance = squares / double(std::size_t(count) * plane);  // biased, as Keras normalizes
          }
          const double inverse_std = 1.0 / std::sqrt(variance + double(layer.epsilon));
          for (int n = 0; n < count; ++n)
            for (std::size_t p = 0; p < plane; ++p) {
              const std::size_t i = std::size_t(n) * in_size + std::size_t(c) * plane + p;
              y[i] = parameters[gamma + std::size_t(c)] * (x[i] - mean) * inverse_std + parameters[beta + std::size_t(c)];
            }
        }
        break;
      }
      case LayerKind::kActivation:
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = apply_activation(layer.activation, x[i]);
        break;
    }
    outputs.push_back(std::move(y));
    input = &outputs.back();
  }
  return outputs;
}

// The batch's mean softmax cross-entropy of (count, classes) logits.
inline double mean_softmax_xent(const std::vector<double>& logits, const std::vector<int>& labels, int classes) {
  double total = 0.0;
  for (std::size_t n = 0; n < labels.size(); ++n) {
    const double* row = logits.data() + n * std::size_t(classes);
    const double top = *std::max_element(row, row + classes);
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(row[k] - top);
    total += std::log(sum) + top - row[labels[n]];
  }
  return total / double(labels.size());
}

}  // namespace train_gpu::reference
