// The CPU backend's first layers, fused per image: 3x3 convolution + bias, ReLU and 2x2 max
// pooling forward, and the convolution's parameter gradients backward, in the model's fixed
// shapes (model_spec.h). Fused because the unfused layers stream (N, 32, 26, 26) maps (5.5 MB
// at batch 64) through memory three times each way; per image they are 86 KB and never leave
// the core's cache, and the backward pass never builds the 26x26 gradient maps at all.
//
// Images are split over the threads of cpu_threads.h; each image's work is the same whatever
// thread runs it, and the backward pass adds per-image partial sums in image order, so results
// do not depend on the thread count. The inner loops run over the 32 filters, compiled for
// AVX-512 with 512-bit and with 256-bit vectors, AVX2+FMA and baseline x86-64; the first use in
// a process times the ones this CPU runs that give the same bits as its best instruction set
// (the FMA builds agree to the bit; the baseline, without FMA, rounds each product apart and
// differs in the last bits) and keeps the fastest (kernel_choice.h). The environment variable
// TRAIN_GPU_CONV_POOL=<name> forces one instead (conv_pool_variants() lists the names; a name
// this CPU cannot run is an error), e.g. x86-64 to reproduce a run from a CPU without FMA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

// Which compiled version of the loops runs: "avx512", "avx512-256", "avx2" or "x86-64".
std::string conv_pool_isa();
// The same with how it was chosen, for the device line: "avx512-256 (fastest at start-up:
// avx512 0.95, avx512-256 0.81, avx2 0.90 ms)", "avx2 (TRAIN_GPU_CONV_POOL)", or the name alone.
std::string conv_pool_choice();
// The versions this CPU can run, the instruction-set flags' preference first.
std::vector<std::string> conv_pool_variants();
// Runs `name` (one of conv_pool_variants()) from now on, in this whole process: for tests and
// benchmarks that compare the versions.
void use_conv_pool_variant(const std::string& name);

}  // namespace train_gpu::cpu
