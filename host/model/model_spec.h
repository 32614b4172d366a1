// The tutorial's CNN, its geometry and its parameter arena. Both backends use this header.
//
// Layout convention (the only one in the project):
// - Activations are NCHW, row-major: x[n][c][y][x]. Images are (N, 1, 28, 28).
// - Every weight is stored in PyTorch's layout, row-major: conv.weight (32, 1, 3, 3),
//   fc1.weight (128, 5408) = (out, in), fc2.weight (10, 128). fc1's 5408 inputs are the pooled
//   maps flattened in (channel, row, col) order, as torch.flatten of an NCHW tensor gives.
// - All parameters live in ONE contiguous float arena, in the order of kParameterTensors; the
//   gradients and Adam's m and v are arenas of the same size and layout. Views are offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace train_gpu::model {

constexpr int kImageSide = 28;
constexpr int kImagePixels = kImageSide * kImageSide;          // 784
constexpr int kConvFilters = 32;
constexpr int kConvKernel = 3;                                  // 3x3, valid, stride 1
constexpr int kConvSide = kImageSide - kConvKernel + 1;         // 26
constexpr int kConvOutputs = kConvFilters * kConvSide * kConvSide;  // 21632 per image
constexpr int kPoolSide = kConvSide / 2;                        // 13 (2x2, stride 2)
constexpr int kFlatFeatures = kConvFilters * kPoolSide * kPoolSide;  // 5408
constexpr int kHidden = 128;
constexpr int kClasses = 10;

struct TensorSpec {
  const char* name;      // PyTorch state_dict name, also the safetensors key
  int rank;
  int64_t shape[4];
  std::size_t offset;    // first element in the parameter arena
  std::size_t count;     // number of elements
};

constexpr std::size_t kConvWeightCount = std::size_t{kConvFilters} * kConvKernel * kConvKernel;  // 288
constexpr std::size_t kConvBiasCount = kConvFilters;                                              // 32
constexpr std::size_t kFc1WeightCount = std::size_t{kHidden} * kFlatFeatures;                    // 692,224
constexpr std::size_t kFc1BiasCount = kHidden;                                                    // 128
constexpr std::size_t kFc2WeightCount = std::size_t{kClasses} * kHidden;                         // 1,280
constexpr std::size_t kFc2BiasCount = kClasses;                                                   // 10

constexpr std::size_t kConvWeightOffset = 0;
constexpr std::size_t kConvBiasOffset = kConvWeightOffset + kConvWeightCount;
constexpr std::size_t kFc1WeightOffset = kConvBiasOffset + kConvBiasCount;
constexpr std::size_t kFc1BiasOffset = kFc1WeightOffset + kFc1WeightCount;
constexpr std::size_t kFc2WeightOffset = kFc1BiasOffset + kFc1BiasCount;
constexpr std::size_t kFc2BiasOffset = kFc2WeightOffset + kFc2WeightCount;
constexpr std::size_t kParameterCount = kFc2BiasOffset + kFc2BiasCount;
static_assert(kParameterCount == 693962, "the tutorial's model has 693,962 parameters");

constexpr int kTensorCount = 6;
constexpr TensorSpec kParameterTensors[kTensorCount] = {
    {"conv.weight", 4, {kConvFilters, 1, kConvKernel, kConvKernel}, kConvWeightOffset, kConvWeightCount},
    {"conv.bias", 1, {kConvFilters, 0, 0, 0}, kConvBiasOffset, kConvBiasCount},
    {"fc1.weight", 2, {kHidden, kFlatFeatures, 0, 0}, kFc1WeightOffset, kFc1WeightCount},
    {"fc1.bias", 1, {kHidden, 0, 0, 0}, kFc1BiasOffset, kFc1BiasCount},
    {"fc2.weight", 2, {kClasses, kHidden, 0, 0}, kFc2WeightOffset, kFc2WeightCount},
    {"fc2.bias", 1, {kClasses, 0, 0, 0}, kFc2BiasOffset, kFc2BiasCount},
};

// A one-line description stored in checkpoints so a checkpoint of another model is refused.
constexpr const char* kModelDescription =
    "conv(1->32,3x3,valid)+relu > maxpool2x2 > flatten(5408) > dense(128)+relu > dense(10)";

}  // namespace train_gpu::model
