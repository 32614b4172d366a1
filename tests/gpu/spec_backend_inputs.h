// What the GPU tests of spec models (cuda/network/) share: the three specs that between them use
// every layer kind and option the CPU trains, seeded data sets of a spec's shape and classes, the
// backend options the comparisons run with, and the L2 comparison of whole-network results
// (network_backend_test.cpp derives its tolerance, kStepTolerance).
//   (a) Keras's Simple MNIST convnet (conv, max pooling, dropout, softmax folded into the loss);
//   (b) a CIFAR-shaped spec: 3x32x32, BatchNormalization, same padding (asymmetric for the
//       stride-2 convolution and the stride-2 average pooling), average and max pooling, dropout;
//   (c) tanh and sigmoid, a convolution without bias, valid padding with stride 2, an Activation
//       layer, BatchNormalization on a flat input, dropout, 13 classes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gpu/backend_inputs.h"
#include "host/data/image_set.h"
#include "host/model/backend.h"
#include "host/model/network_spec.h"
#include "support/example_specs.h"

namespace train_gpu::cuda::testing {

// (c)
inline model::NetworkSpec activations_spec() {
  using namespace train_gpu::testing::layers;
  return model::build_network(
      {2, 20, 20}, {conv(6, 3, 2, Padding::kValid, Activation::kTanh, false), conv(8, 3, 1, Padding::kSame, Activation::kSigmoid),
                    pool(LayerKind::kMaxPool2D, 3, 2), flatten(), dense(24, Activation::kLinear), batch_norm(0.8f, 1e-3f),
                    activation(Activation::kTanh), dropout(0.3f), dense(13, Activation::kSoftmax)});
}

struct NamedSpec {
  const char* name;
  model::NetworkSpec spec;
};

inline std::vector<NamedSpec> specs() {
  return {{"simple mnist convnet", train_gpu::testing::simple_mnist_convnet()},
          {"cifar-shaped", train_gpu::testing::cifar_shaped(8)},
          {"tanh/sigmoid, 13 classes", activations_spec()}};
}

// What --kernels fused and --pooling cudnn change (cuda/network/fusion_plan.h): (a) fuses its
// first convolution pair and its last Dense, the two-Dense spec every Dense epilogue (the input
// gradient through a Dense relu's mask) and a convolution pair, (b) only its last Dense (and
// refuses --pooling cudnn: asymmetric same padding).
inline std::vector<NamedSpec> fused_specs() {
  return {{"simple mnist convnet", train_gpu::testing::simple_mnist_convnet()},
          {"two dense relu", train_gpu::testing::two_dense_relu()},
          {"cifar-shaped", train_gpu::testing::cifar_shaped(8)}};
}

// Random images of the spec's input shape, labels over its classes.
inline ImageSet random_image_set(const model::NetworkSpec& spec, int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::uniform_int_distribution<int> label(0, spec.classes() - 1);
  ImageSet set;
  set.count = count;
  set.channels = spec.input.channels;
  set.rows = spec.input.height;
  set.cols = spec.input.width;
  set.classes = spec.classes();
  set.pixels.resize(std::size_t(count * set.image_size()));
  set.labels.resize(std::size_t(count));
  for (uint8_t& p : set.pixels) p = uint8_t(pixel(rng));
  for (uint8_t& l : set.labels) l = uint8_t(label(rng));
  return set;
}

// The device loader, a fixed dropout seed and the direct-sum convolutions (backend_inputs.h).
inline BackendOptions options_for(const model::NetworkSpec& spec, int max_batch = 16) {
  BackendOptions options;
  options.spec = spec;
  options.max_batch = max_batch;
  options.seed = 77;
  options.loader = "device";
  options.conv_algorithms = direct_sum_algorithms();
  return options;
}

// ||a - r||_2 <= tolerance * ||r||_2 over the range, NaN failing: for gradient-like results whose
// elements may jump at a kink (network_backend_test.cpp's header).
inline ::testing::AssertionResult l2_close(const float* actual, const float* reference, std::size_t count, double tolerance) {
  double difference = 0, norm = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double d = double(actual[i]) - double(reference[i]);
    difference += d * d;
    norm += double(reference[i]) * double(reference[i]);
  }
  if (std::sqrt(difference) <= tolerance * std::sqrt(norm) && norm > 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "||difference|| " << std::sqrt(difference) << " against " << tolerance
                                       << " x ||reference|| " << std::sqrt(norm) << " over " << count << " elements";
}

// Each parameter tensor's change from `start`, GPU against CPU, in the L2 norm (l2_close).
inline void expect_updates_close(const model::NetworkSpec& spec, const std::vector<float>& gpu, const std::vector<float>& cpu,
                          const std::vector<float>& start, double tolerance) {
  for (const model::ArenaTensor& tensor : spec.parameters) {
    std::vector<float> gpu_change(tensor.count), cpu_change(tensor.count);
    for (std::size_t i = 0; i < tensor.count; ++i) {
      gpu_change[i] = gpu[tensor.offset + i] - start[tensor.offset + i];
      cpu_change[i] = cpu[tensor.offset + i] - start[tensor.offset + i];
    }
    EXPECT_TRUE(l2_close(gpu_change.data(), cpu_change.data(), tensor.count, tolerance)) << tensor.name;
  }
}

}  // namespace train_gpu::cuda::testing
