// NetworkSpecs for the tests, built in C++ with build_network (the Keras JSON and one-line
// readers are tested on their own): one short builder per layer kind, and the whole
// specs, Keras's "Simple MNIST convnet" and a CIFAR-shaped network.
#pragma once

#include <vector>

#include "host/model/network_spec.h"

namespace train_gpu::testing {

// The builders and the enums they take, for one `using namespace testing::layers;`.
namespace layers {

using model::Activation;
using model::LayerKind;
using model::Padding;

inline model::LayerSpec conv(int filters, int kernel, int stride = 1, model::Padding padding = model::Padding::kValid,
                             model::Activation activation = model::Activation::kRelu, bool bias = true) {
  model::LayerSpec layer;
  layer.kind = model::LayerKind::kConv2D;
  layer.units = filters;
  layer.kernel_h = layer.kernel_w = kernel;
  layer.stride_h = layer.stride_w = stride;
  layer.padding = padding;
  layer.activation = activation;
  layer.use_bias = bias;
  return layer;
}

inline model::LayerSpec pool(model::LayerKind kind, int size, int stride = 0, model::Padding padding = model::Padding::kValid) {
  model::LayerSpec layer;
  layer.kind = kind;
  layer.kernel_h = layer.kernel_w = size;
  layer.stride_h = layer.stride_w = stride;
  layer.padding = padding;
  return layer;
}

inline model::LayerSpec flatten() { return model::LayerSpec{}; }

inline model::LayerSpec dense(int units, model::Activation activation = model::Activation::kLinear, bool bias = true) {
  model::LayerSpec layer;
  layer.kind = model::LayerKind::kDense;
  layer.units = units;
  layer.activation = activation;
  layer.use_bias = bias;
  return layer;
}

inline model::LayerSpec dropout(float rate) {
  model::LayerSpec layer;
  layer.kind = model::LayerKind::kDropout;
  layer.rate = rate;
  return layer;
}

inline model::LayerSpec batch_norm(float momentum = 0.99f, float epsilon = 1e-3f) {
  model::LayerSpec layer;
  layer.kind = model::LayerKind::kBatchNorm;
  layer.momentum = momentum;
  layer.epsilon = epsilon;
  return layer;
}

inline model::LayerSpec activation(model::Activation function) {
  model::LayerSpec layer;
  layer.kind = model::LayerKind::kActivation;
  layer.activation = function;
  return layer;
}

}  // namespace layers

using namespace layers;

// keras.io/examples/vision/mnist_convnet: 34,826 parameters.
inline model::NetworkSpec simple_mnist_convnet() {
  using model::LayerKind;
  return model::build_network({1, 28, 28}, {conv(32, 3), pool(LayerKind::kMaxPool2D, 2), conv(64, 3),
                                            pool(LayerKind::kMaxPool2D, 2), flatten(), dropout(0.5f),
                                            dense(10, model::Activation::kSoftmax)});
}

// Two Dense relu layers in a row, then the classes: each Dense after a Dense relu may take over
// its ReLU and bias gradient in --kernels fused (cuda/network/fusion_plan.h).
inline model::NetworkSpec two_dense_relu() {
  using model::Activation;
  using model::LayerKind;
  return model::build_network({1, 12, 12}, {conv(4, 3), pool(LayerKind::kMaxPool2D, 2), flatten(),
                                            dense(32, Activation::kRelu), dense(16, Activation::kRelu),
                                            dense(10, Activation::kSoftmax)});
}

// 3x32x32 with BatchNormalization, same padding, a stride-2 convolution, average pooling and dropout.
inline model::NetworkSpec cifar_shaped(int filters = 8) {
  using model::LayerKind;
  using model::Padding;
  return model::build_network(
      {3, 32, 32}, {conv(filters, 3, 1, Padding::kSame, model::Activation::kLinear), batch_norm(0.9f),
                    activation(model::Activation::kRelu), conv(2 * filters, 3, 2, Padding::kSame),
                    pool(LayerKind::kAvgPool2D, 3, 2, Padding::kSame), pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame),
                    flatten(), dropout(0.25f), dense(10, model::Activation::kSoftmax)});
}

}  // namespace train_gpu::testing
