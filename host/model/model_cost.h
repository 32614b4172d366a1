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
