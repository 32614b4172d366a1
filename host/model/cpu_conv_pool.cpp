#include "host/model/cpu_conv_pool.h"

#include <cstring>

#include "cuda/math/activation_math.h"
#include "host/common/error.h"
#include "host/model/cpu_threads.h"

// One copy of the per-image kernels per instruction-set level, chosen by the dynamic loader
// (GCC's ifunc resolver asks the CPU once). Other compilers get the baseline build.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TRAIN_GPU_HAVE_ISA_CLONES 1
#define TRAIN_GPU_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TRAIN_GPU_HAVE_ISA_CLONES 0
#define TRAIN_GPU_ISA_CLONES
#endif

namespace train_gpu::cpu {

namespace {

using namespace model;

constexpr int kFilters = kConvFilters;  // the vector every inner loop runs over
constexpr int kTaps = kConvKernel * kConvKernel;
constexpr int kPooledPlane = kPoolSide * kPoolSide;
constexpr int kConvPlane = kConvSide * kConvSide;

// weight (32, 9) as (9, 32): one tap's weights for all filters contiguous.
struct TapMajorWeights {
  alignas(64) float tap[kTaps][kFilters];
};

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

TapMajorWeights tap_major(const float* weight) {
  TapMajorWeights result;
  for (int f = 0; f < kFilters; ++f)
    for (int t = 0; t < kTaps; ++t) result.tap[t][f] = weight[f * kTaps + t];
  return result;
}

TRAIN_GPU_ISA_CLONES
void forward_image(const float* image, const TapMajorWeights& weights, const float* bias, float* pooled,
                   uint8_t* argmax, float* conv_maps) {
  // (position, filter) here, transposed to NCHW at the end: stores of one filter's 169 values
  // run contiguously there, where storing each window's 32 results at stride 169 would make
  // the stores, not the arithmetic, the bound.
  alignas(64) float pooled_by_position[kPooledPlane][kFilters];
  alignas(64) uint8_t argmax_by_position[kPooledPlane][kFilters];
  for (int py = 0; py < kPoolSide; ++py) {
    for (int px = 0; px < kPoolSide; ++px) {
      // The window's four map positions at once: four independent sums per filter keep the
      // FMA units busy where one position's nine dependent taps would wait on each other.
      float sum[4][kFilters] = {};
      for (int ky = 0; ky < kConvKernel; ++ky) {
        for (int kx = 0; kx < kConvKernel; ++kx) {
          const float* w = weights.tap[ky * kConvKernel + kx];
          const float* top = image + (2 * py + ky) * kImageSide + 2 * px + kx;
          const float p0 = top[0], p1 = top[1], p2 = top[kImageSide], p3 = top[kImageSide + 1];
          for (int f = 0; f < kFilters; ++f) {
            sum[0][f] += w[f] * p0;
            sum[1][f] += w[f] * p1;
            sum[2][f] += w[f] * p2;
            sum[3][f] += w[f] * p3;
          }
        }
      }
      // Bias after the taps, as cuDNN's convolution then bias add does.
      float map[4][kFilters];
      for (int k = 0; k < 4; ++k)
        for (int f = 0; f < kFilters; ++f) map[k][f] = math::relu(sum[k][f] + bias[f]);
      // Selection on bit patterns: with `c ? x : y` on floats GCC left this loop scalar, a
      // branch per filter on a coin toss of which position wins (measured: a third of the
      // layer's time); as masks it vectorizes, and the selected value is the one `?:` gives.
      uint32_t best[kFilters], winner[kFilters];
      for (int f = 0; f < kFilters; ++f) {
        best[f] = float_bits(map[0][f]);
        winner[f] = 0;
      }
      for (uint32_t k = 1; k < 4; ++k) {
        for (int f = 0; f < kFilters; ++f) {
          // strict: the first maximum keeps a tie
          const uint32_t take = 0u - static_cast<uint32_t>(map[k][f] > bits_float(best[f]));
          best[f] = (float_bits(map[k][f]) & take) | (best[f] & ~take);
          winner[f] = (k & take) | (winner[f] & ~take);
        }
      }
      const int q = py * kPoolSide + px;
      for (int f = 0; f < kFilters; ++f) {
        pooled_by_position[q][f] = bits_float(best[f]);
        argmax_by_position[q][f] = static_cast<uint8_t>(winner[f]);
      }
      if (conv_maps != nullptr) {
        for (int k = 0; k < 4; ++k)
          for (int f = 0; f < kFilters; ++f)
            conv_maps[f * kConvPlane + (2 * py + k / 2) * kConvSide + 2 * px + k % 2] = map[k][f];
      }
    }
  }
  for (int f = 0; f < kFilters; ++f) {
    for (int q = 0; q < kPooledPlane; ++q) {
      pooled[f * kPooledPlane + q] = pooled_by_position[q][f];
      argmax[f * kPooledPlane + q] = argmax_by_position[q][f];
    }
  }
}

// Per image: gradient[t * 32 + f] = d loss / d weight[f][t], gradient[288 + f] = d loss / d bias[f].
TRAIN_GPU_ISA_CLONES
void backward_image(const float* image, const float* dpooled, const uint8_t* argmax, float* gradient) {
  alignas(64) float weight_sum[kTaps][kFilters] = {};
  alignas(64) float bias_sum[kFilters] = {};
  for (int py = 0; py < kPoolSide; ++py) {
    for (int px = 0; px < kPoolSide; ++px) {
      const int q = py * kPoolSide + px;
      float g[kFilters];
      uint32_t winner[kFilters];
      for (int f = 0; f < kFilters; ++f) {
        g[f] = dpooled[f * kPooledPlane + q];
        winner[f] = argmax[f * kPooledPlane + q];
      }
      for (int f = 0; f < kFilters; ++f) bias_sum[f] += g[f];
      // The four window positions, each with the gradient of the filters whose winner it is:
      // the dense form of the scatter, which keeps the filter loop a vector (masks on bit
      // patterns, as in the forward pass: +0.0f where another position won).
      for (uint32_t k = 0; k < 4; ++k) {
        float routed[kFilters];
        for (int f = 0; f < kFilters; ++f) {
          routed[f] = bits_float(float_bits(g[f]) & (0u - static_cast<uint32_t>(winner[f] == k)));
        }
        const int y = 2 * py + k / 2, x = 2 * px + k % 2;
        for (int ky = 0; ky < kConvKernel; ++ky) {
          for (int kx = 0; kx < kConvKernel; ++kx) {
            const float pixel = image[(y + ky) * kImageSide + x + kx];
            float* sum = weight_sum[ky * kConvKernel + kx];
            for (int f = 0; f < kFilters; ++f) sum[f] += routed[f] * pixel;
          }
        }
      }
    }
  }
  std::memcpy(gradient, weight_sum, sizeof weight_sum);
  std::memcpy(gradient + kTaps * kFilters, bias_sum, sizeof bias_sum);
}

}  // namespace

void conv_relu_pool_forward(const float* images, int count, const float* weight, const float* bias, float* pooled,
                            uint8_t* argmax, float* conv_maps) {
  if (count < 0) throw Error("conv_relu_pool_forward: count " + std::to_string(count) + " is negative");
  const TapMajorWeights weights = tap_major(weight);
  parallel_for(count, [&](int n) {
    forward_image(images + std::size_t(n) * kImagePixels, weights, bias, pooled + std::size_t(n) * kFlatFeatures,
                  argmax + std::size_t(n) * kFlatFeatures,
                  conv_maps == nullptr ? nullptr : conv_maps + std::size_t(n) * kConvOutputs);
  });
}

void conv_relu_pool_backward_params(const float* images, const float* dpooled, const uint8_t* argmax, int count,
                                    float* scratch, float* weight_grad, float* bias_grad) {
  if (count < 1) throw Error("conv_relu_pool_backward_params: count " + std::to_string(count) + " is not positive");
  parallel_for(count, [&](int n) {
    backward_image(images + std::size_t(n) * kImagePixels, dpooled + std::size_t(n) * kFlatFeatures,
                   argmax + std::size_t(n) * kFlatFeatures, scratch + std::size_t(n) * kConvGradientFloatsPerImage);
  });
  // Image order, whatever thread computed which image.
  float total[kConvGradientFloatsPerImage] = {};
  for (int n = 0; n < count; ++n) {
    const float* partial = scratch + std::size_t(n) * kConvGradientFloatsPerImage;
    for (std::size_t i = 0; i < kConvGradientFloatsPerImage; ++i) total[i] += partial[i];
  }
  for (int f = 0; f < kFilters; ++f) {
    for (int t = 0; t < kTaps; ++t) weight_grad[f * kTaps + t] = total[t * kFilters + f];
    bias_grad[f] = total[kTaps * kFilters + f];
  }
}

std::string conv_pool_isa() {
#if TRAIN_GPU_HAVE_ISA_CLONES
  // The same order of preference as the clones' resolver.
  if (__builtin_cpu_supports("x86-64-v4")) return "avx512";
  if (__builtin_cpu_supports("x86-64-v3")) return "avx2";
#endif
  return "x86-64";
}

}  // namespace train_gpu::cpu
