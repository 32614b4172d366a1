// Arithmetic of one sample through the model, for the benchmark's floor: how many FLOPs the
// matrix products need (a multiply-add counts 2). Elementwise work (bias, ReLU, pooling, softmax,
// Adam) is a few percent of it and left out; so is the gradient with respect to the input image,
// which no backend computes because nothing consumes it.
#pragma once

#include <cstdint>

#include "host/model/model_spec.h"

namespace train_gpu::model {

// conv 3x3 (as im2col GEMM), fc1, fc2 forward.
constexpr int64_t kConvForwardFlops = 2LL * kConvOutputs * kConvKernel * kConvKernel;  // 389,376
constexpr int64_t kFc1ForwardFlops = 2LL * kFlatFeatures * kHidden;                    // 1,384,448
constexpr int64_t kFc2ForwardFlops = 2LL * kHidden * kClasses;                         // 2,560

constexpr int64_t kForwardFlopsPerSample = kConvForwardFlops + kFc1ForwardFlops + kFc2ForwardFlops;

// Backward: each dense layer needs the gradients of its weights and of its input, each as costly
// as its forward product; the convolution only the gradient of its filters.
constexpr int64_t kBackwardFlopsPerSample = 2 * (kFc1ForwardFlops + kFc2ForwardFlops) + kConvForwardFlops;

constexpr int64_t kTrainingFlopsPerSample = kForwardFlopsPerSample + kBackwardFlopsPerSample;

}  // namespace train_gpu::model

#include "host/model/network_spec.h"

namespace train_gpu::model {

// The same count for any spec: each Conv2D's and Dense's product forward (2 FLOPs per
// multiply-add), and backward its weight gradient plus, except for the first layer (whose input
// is the image, which needs no gradient), its input gradient. For the tutorial's spec this is
// kTrainingFlopsPerSample.
inline int64_t training_flops_per_sample(const NetworkSpec& spec) {
  int64_t total = 0;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    int64_t forward = 0;
    if (layer.kind == LayerKind::kConv2D) {
      forward = 2LL * layer.output.size() * layer.input.channels * layer.kernel_h * layer.kernel_w;
    } else if (layer.kind == LayerKind::kDense) {
      forward = 2LL * layer.input.size() * layer.units;
    }
    total += forward + forward + (i > 0 ? forward : 0);
  }
  return total;
}

}  // namespace train_gpu::model
