#include "host/model/cpu/activation_layer.h"

#include <algorithm>

#include "cuda/math/activation_math.h"
#include "host/common/error.h"
#include "host/model/cpu_threads.h"

namespace train_gpu::cpu {

namespace {

// Below this many elements one thread is faster than waking the pool (the tutorial's
// (100, 128) hidden layer stays on the caller's thread, as it always did).
constexpr std::size_t kParallelElements = std::size_t{1} << 16;
constexpr std::size_t kChunk = std::size_t{1} << 14;

template <typename Body>
void for_chunks(std::size_t count, const Body& body) {
  if (count < kParallelElements) {
    body(std::size_t{0}, count);
    return;
  }
  const int chunks = int((count + kChunk - 1) / kChunk);
  parallel_for(chunks, [&](int chunk) {
    const std::size_t begin = std::size_t(chunk) * kChunk;
    body(begin, std::min(count, begin + kChunk));
  });
}

}  // namespace

void activation_forward(model::Activation activation, float* values, std::size_t count) {
  switch (activation) {
    case model::Activation::kLinear:
    case model::Activation::kSoftmax:  // folded into the loss: the layer's output is the logits
      return;
    case model::Activation::kRelu:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) values[i] = math::relu(values[i]);
      });
      return;
    case model::Activation::kTanh:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) values[i] = math::tanh_activation(values[i]);
      });
      return;
    case model::Activation::kSigmoid:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) values[i] = math::sigmoid(values[i]);
      });
      return;
  }
}

void activation_backward(model::Activation activation, const float* output, float* gradient, std::size_t count) {
  switch (activation) {
    case model::Activation::kLinear:
    case model::Activation::kSoftmax:
      return;
    case model::Activation::kRelu:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) gradient[i] = math::relu_backward(output[i], gradient[i]);
      });
      return;
    case model::Activation::kTanh:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) gradient[i] = math::tanh_backward(output[i], gradient[i]);
      });
      return;
    case model::Activation::kSigmoid:
      for_chunks(count, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) gradient[i] = math::sigmoid_backward(output[i], gradient[i]);
      });
      return;
  }
}

ActivationLayer::ActivationLayer(const model::LayerSpec& layer)
    : activation_(layer.activation), size_(std::size_t(layer.output.size())) {
  if (layer.kind != model::LayerKind::kActivation || layer.input != layer.output) {
    throw Error("ActivationLayer: layer " + layer.name + " is not an Activation layer");
  }
}

void ActivationLayer::forward(const LayerForward& args) {
  const std::size_t count = std::size_t(args.count) * size_;
  std::copy(args.input, args.input + count, args.output);
  activation_forward(activation_, args.output, count);
}

void ActivationLayer::backward(const LayerBackward& args) {
  if (!args.need_dinput) return;
  const std::size_t count = std::size_t(args.count) * size_;
  activation_backward(activation_, args.output, args.doutput, count);
  std::copy(args.doutput, args.doutput + count, args.dinput);
}

}  // namespace train_gpu::cpu
