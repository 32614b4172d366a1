// The specs of the Keras models in tests/support/models/*.json (what keras.Sequential.to_json()
// wrote for them), built here with build_network so that tests can run them without a Keras JSON
// reader, and seeded random arenas for any spec: weights with variance 1/fan_in (activations
// stay O(1) through every layer, so the logits spread and every weight matters), biases and
// BatchNormalization shifts in +-0.1, scales in [0.5, 1.5], moving means in +-0.2, moving
// variances in [0.5, 1.5] (positive, as a trained one is).
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/network_spec.h"
#include "host/train/safetensors.h"
#include "support/example_specs.h"
#include "support/test_support.h"

namespace train_gpu::testing {

inline std::filesystem::path example_model_json(const std::string& name) {
  return std::filesystem::path(TRAIN_GPU_SOURCE_DIR) / "tests" / "support" / "models" / (name + ".json");
}

// example_specs.h's builders with the layer's Keras name, as the JSON files name them.
inline model::LayerSpec named(const std::string& name, model::LayerSpec layer) {
  layer.name = name;
  return layer;
}
inline model::LayerSpec conv_layer(const std::string& name, int filters, int kernel, model::Activation activation,
                                   model::Padding padding = model::Padding::kValid, int stride = 1, bool use_bias = true) {
  return named(name, layers::conv(filters, kernel, stride, padding, activation, use_bias));
}
inline model::LayerSpec pool_layer(const std::string& name, model::LayerKind kind, int size, int stride = 0,
                                   model::Padding padding = model::Padding::kValid) {
  return named(name, layers::pool(kind, size, stride, padding));
}
inline model::LayerSpec plain_layer(const std::string& name, model::LayerKind kind) {
  model::LayerSpec layer;
  layer.kind = kind;
  return named(name, layer);
}
inline model::LayerSpec dense_layer(const std::string& name, int units, model::Activation activation) {
  return named(name, layers::dense(units, activation));
}
inline model::LayerSpec dropout_layer(const std::string& name, float rate) { return named(name, layers::dropout(rate)); }
inline model::LayerSpec activation_layer(const std::string& name, model::Activation function) {
  return named(name, layers::activation(function));
}
inline model::LayerSpec batch_norm_layer(const std::string& name, float momentum, float epsilon) {
  return named(name, layers::batch_norm(momentum, epsilon));
}

// models/simple_mnist_convnet.json is example_specs.h's simple_mnist_convnet(): Keras's default
// layer names are build_network's.

// models/cifar_batchnorm.json: 3x32x32, a bias-free same convolution, BatchNormalization on maps
// and on features, stride 2, average and max pooling with asymmetric same padding, dropout,
// tanh and sigmoid; 38,874 parameters (Keras's count_params(), moving statistics included).
inline model::NetworkSpec cifar_batchnorm_network() {
  using model::Activation;
  using model::LayerKind;
  using model::Padding;
  return model::build_network(
      {3, 32, 32},
      {conv_layer("conv2d_2", 16, 3, Activation::kLinear, Padding::kSame, 1, false),
       batch_norm_layer("batch_normalization", 0.9f, 1e-3f), activation_layer("activation", Activation::kRelu),
       conv_layer("conv2d_3", 32, 3, Activation::kRelu, Padding::kSame, 2),
       pool_layer("average_pooling2d", LayerKind::kAvgPool2D, 3, 2, Padding::kSame),
       pool_layer("max_pooling2d_2", LayerKind::kMaxPool2D, 2, 0, Padding::kSame), dropout_layer("dropout_1", 0.25f),
       plain_layer("flatten_1", LayerKind::kFlatten), dense_layer("dense_1", 64, Activation::kTanh),
       batch_norm_layer("batch_normalization_1", 0.99f, 1e-3f), activation_layer("activation_1", Activation::kSigmoid),
       dropout_layer("dropout_2", 0.5f), dense_layer("dense_2", 10, Activation::kSoftmax)});
}

// models/flatten_batchnorm.json: a non-square kernel and stride, then BatchNormalization straight
// after a Flatten of 4x5x7 maps (its vectors follow Flatten's order), a bias-free Dense and a
// separate softmax Activation.
inline model::NetworkSpec flatten_batchnorm_network() {
  using model::Activation;
  using model::LayerKind;
  model::LayerSpec rectangular = conv_layer("conv2d", 4, 3, Activation::kRelu, model::Padding::kSame);
  rectangular.kernel_w = 2;
  rectangular.stride_h = 2;
  model::LayerSpec bias_free = dense_layer("dense", 5, Activation::kLinear);
  bias_free.use_bias = false;
  return model::build_network({3, 9, 7}, {rectangular, plain_layer("flatten", LayerKind::kFlatten),
                                          batch_norm_layer("batch_normalization", 0.99f, 1e-3f), bias_free,
                                          activation_layer("activation", Activation::kSoftmax)});
}

inline float uniform_in(Rng& rng, float low, float high) { return low + (high - low) * float(rng.uniform01()); }

inline std::vector<float> random_parameter_arena(const model::NetworkSpec& spec, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> arena(spec.parameter_count);
  for (const model::ArenaTensor& tensor : spec.parameters) {
    const bool batch_norm = spec.layers[std::size_t(tensor.layer)].kind == model::LayerKind::kBatchNorm;
    const bool scale = batch_norm && tensor.name.size() > 7 && tensor.name.substr(tensor.name.size() - 7) == ".weight";
    const std::size_t fan_in = tensor.shape.size() > 1 ? tensor.count / std::size_t(tensor.shape[0]) : 0;
    const float bound = fan_in > 0 ? std::sqrt(3.0f / float(fan_in)) : 0.1f;  // uniform +-b has variance b^2/3
    for (std::size_t k = 0; k < tensor.count; ++k) {
      arena[tensor.offset + k] = scale ? uniform_in(rng, 0.5f, 1.5f) : uniform_in(rng, -bound, bound);
    }
  }
  return arena;
}

inline std::vector<float> random_buffer_arena(const model::NetworkSpec& spec, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> arena(spec.buffer_count);
  for (const model::ArenaTensor& tensor : spec.buffers) {
    const bool variance = tensor.name.find("running_var") != std::string::npos;
    for (std::size_t k = 0; k < tensor.count; ++k) {
      arena[tensor.offset + k] = variance ? uniform_in(rng, 0.5f, 1.5f) : uniform_in(rng, -0.2f, 0.2f);
    }
  }
  return arena;
}

// Both arenas as a safetensors file under the spec's tensor names (a PyTorch state_dict of it).
inline void write_spec_state_dict(const std::filesystem::path& file, const model::NetworkSpec& spec,
                                  const std::vector<float>& parameters, const std::vector<float>& buffers,
                                  const safetensors::Metadata& metadata = {}) {
  std::vector<safetensors::F32TensorView> tensors;
  for (const model::ArenaTensor& tensor : spec.parameters) tensors.push_back({tensor.name, tensor.shape, parameters.data() + tensor.offset});
  for (const model::ArenaTensor& tensor : spec.buffers) tensors.push_back({tensor.name, tensor.shape, buffers.data() + tensor.offset});
  const std::vector<unsigned char> bytes = safetensors::encode(tensors, metadata);
  write_file(file, Bytes(bytes.begin(), bytes.end()));
}

}  // namespace train_gpu::testing
