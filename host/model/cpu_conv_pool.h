// The CPU backend's first layers, fused per image: 3x3 convolution + bias, ReLU and 2x2 max
// pooling forward, and the convolution's parameter gradients backward, in the model's fixed
// shapes (model_spec.h). Fused because the unfused layers stream (N, 32, 26, 26) maps (5.5 MB
// at batch 64) through memory three times each way; per image they are 86 KB and never leave
// the core's cache, and the backward pass never builds the 26x26 gradient maps at all.
//
// Images are split over the threads of cpu_threads.h; each image's work is the same whatever
// thread runs it, and the backward pass adds per-image partial sums in image order, so results
// do not depend on the thread count. The inner loops run over the 32 filters, compiled for
// AVX-512, AVX2+FMA and baseline x86-64 and picked when the program loads (conv_pool_isa()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "host/model/model_spec.h"

namespace train_gpu::cpu {

// For each of `count` images (count, 28, 28): maps = relu(conv(image, weight (32, 9)) + bias);
// pooled (count, 5408) = the 2x2 window maxima of maps, NCHW-flattened as model_spec.h's fc1
// input; argmax (count, 5408) = each winner's position in its window, dy * 2 + dx, the first in
// row-major order on ties (ReLU's zeros tie often). When conv_maps is not null it also receives
// the maps themselves, (count, 32, 26, 26) NCHW. Overwrites every output.
void conv_relu_pool_forward(const float* images, int count, const float* weight, const float* bias, float* pooled,
                            uint8_t* argmax, float* conv_maps = nullptr);

// Floats of per-image scratch conv_relu_pool_backward_params needs: count * this.
constexpr std::size_t kConvGradientFloatsPerImage = model::kConvWeightCount + model::kConvBiasCount;

// The convolution's parameter gradients, weight_grad (32, 9) and bias_grad (32), from dpooled
// (count, 5408): the loss gradient w.r.t. the pooled values with ReLU's backward already applied
// (zero where the pooled value is 0), which reaches the maps only at each window's argmax.
// `scratch` holds count * kConvGradientFloatsPerImage floats. Overwrites both gradients.
void conv_relu_pool_backward_params(const float* images, const float* dpooled, const uint8_t* argmax, int count,
                                    float* scratch, float* weight_grad, float* bias_grad);

// Which compiled version of the loops runs on this CPU: "avx512", "avx2" or "x86-64".
std::string conv_pool_isa();

}  // namespace train_gpu::cpu
