#include "host/model/cpu_conv_pool.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "cuda/math/activation_math.h"
#include "host/common/error.h"
#include "host/common/random.h"
#include "host/model/cpu_threads.h"
#include "host/model/kernel_choice.h"

// One copy of the per-image kernels per instruction-set level and vector width: the bodies below
// are inlined into one wrapper per GCC target attribute (target_clones would pick by flags
// alone, inside an ifunc we could not time). Other compilers get the baseline build.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TRAIN_GPU_HAVE_ISA_VARIANTS 1
#else
#define TRAIN_GPU_HAVE_ISA_VARIANTS 0
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

__attribute__((always_inline)) inline void forward_image(const float* image, const TapMajorWeights& weights, const float* bias, float* pooled,
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
__attribute__((always_inline)) inline void backward_image(const float* image, const float* dpooled, const uint8_t* argmax, float* gradient) {
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

// ---- The compiled versions, and the choice among them ----------------------------------------

using ForwardImage = void (*)(const float*, const TapMajorWeights&, const float*, float*, uint8_t*, float*);
using BackwardImage = void (*)(const float*, const float*, const uint8_t*, float*);

struct ConvPoolVariant {
  const char* name;
  ForwardImage forward;
  BackwardImage backward;
  bool fused_multiply_add;  // its sums contract into FMAs: one rounding per tap, not two
  bool (*runs_here)();
};

#define TRAIN_GPU_CONV_POOL_VARIANT(suffix, target_options)                                                      \
  __attribute__((target(target_options))) void forward_image_##suffix(                                           \
      const float* image, const TapMajorWeights& weights, const float* bias, float* pooled, uint8_t* argmax,   \
      float* conv_maps) {                                                                                          \
    forward_image(image, weights, bias, pooled, argmax, conv_maps);                                              \
  }                                                                                                                \
  __attribute__((target(target_options))) void backward_image_##suffix(const float* image, const float* dpooled, \
                                                                       const uint8_t* argmax, float* gradient) {   \
    backward_image(image, dpooled, argmax, gradient);                                                              \
  }

#if TRAIN_GPU_HAVE_ISA_VARIANTS
// Intel's server cores run 512-bit vectors at full width; Zen 4 splits each into two 256-bit
// halves, where the AVX-512 instructions on 256-bit vectors (with AVX-512's 32 registers, which
// hold all four window sums of 32 filters) may win. Which one does is timed, not assumed.
TRAIN_GPU_CONV_POOL_VARIANT(avx512, "arch=x86-64-v4,prefer-vector-width=512")
TRAIN_GPU_CONV_POOL_VARIANT(avx512_256, "arch=x86-64-v4,prefer-vector-width=256")
TRAIN_GPU_CONV_POOL_VARIANT(avx2, "arch=x86-64-v3")
bool has_x86_64_v4() { return __builtin_cpu_supports("x86-64-v4"); }
bool has_x86_64_v3() { return __builtin_cpu_supports("x86-64-v3"); }
#endif
#undef TRAIN_GPU_CONV_POOL_VARIANT

void forward_image_baseline(const float* image, const TapMajorWeights& weights, const float* bias, float* pooled,
                            uint8_t* argmax, float* conv_maps) {
  forward_image(image, weights, bias, pooled, argmax, conv_maps);
}
void backward_image_baseline(const float* image, const float* dpooled, const uint8_t* argmax, float* gradient) {
  backward_image(image, dpooled, argmax, gradient);
}
bool always() { return true; }

// The preferred first, as the instruction-set flags alone would have ranked them.
const ConvPoolVariant kVariants[] = {
#if TRAIN_GPU_HAVE_ISA_VARIANTS
    {"avx512", forward_image_avx512, backward_image_avx512, true, has_x86_64_v4},
    {"avx512-256", forward_image_avx512_256, backward_image_avx512_256, true, has_x86_64_v4},
    {"avx2", forward_image_avx2, backward_image_avx2, true, has_x86_64_v3},
#endif
    {"x86-64", forward_image_baseline, backward_image_baseline, false, always},
};

std::vector<const ConvPoolVariant*> runnable_variants() {
  std::vector<const ConvPoolVariant*> result;
  for (const ConvPoolVariant& variant : kVariants) {
    if (variant.runs_here()) result.push_back(&variant);
  }
  return result;
}

const ConvPoolVariant& variant_named(const std::string& name) {
  for (const ConvPoolVariant* variant : runnable_variants()) {
    if (name == variant->name) return *variant;
  }
  throw Error("conv+pool: no kernel variant '" + name + "' runs on this CPU");
}

// Seconds one forward and backward pass over a batch takes with `variant` on this thread: seeded
// images, weights and upstream gradients of the tutorial's ranges, no denormals.
constexpr int kTimingImages = 16;

struct TimingBatch {
  std::vector<float> images = std::vector<float>(std::size_t(kTimingImages) * kImagePixels);
  TapMajorWeights weights{};
  std::vector<float> bias = std::vector<float>(kFilters);
  std::vector<float> pooled = std::vector<float>(std::size_t(kTimingImages) * kFlatFeatures);
  std::vector<uint8_t> argmax = std::vector<uint8_t>(std::size_t(kTimingImages) * kFlatFeatures);
  std::vector<float> dpooled = std::vector<float>(std::size_t(kTimingImages) * kFlatFeatures);
  std::vector<float> gradient = std::vector<float>(kConvGradientFloatsPerImage);

  TimingBatch() {
    Rng rng(22);
    for (float& pixel : images) pixel = rng.uniform01();
    for (auto& tap : weights.tap)
      for (float& w : tap) w = 0.5f * (rng.uniform01() - 0.5f);
    for (float& b : bias) b = 0.1f * (rng.uniform01() - 0.5f);
    for (float& g : dpooled) g = 1e-3f * (rng.uniform01() - 0.5f);
  }

  double seconds_with(const ConvPoolVariant& variant) {
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < kTimingImages; ++n) {
      variant.forward(images.data() + std::size_t(n) * kImagePixels, weights, bias.data(),
                      pooled.data() + std::size_t(n) * kFlatFeatures, argmax.data() + std::size_t(n) * kFlatFeatures,
                      nullptr);
      variant.backward(images.data() + std::size_t(n) * kImagePixels, dpooled.data() + std::size_t(n) * kFlatFeatures,
                       argmax.data() + std::size_t(n) * kFlatFeatures, gradient.data());
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

// The first round also warms the caches and the clock; each candidate's fastest counts.
constexpr int kTimingRounds = 3;

KernelChoice choose_variant() {
  const std::vector<const ConvPoolVariant*> runnable = runnable_variants();
  std::vector<std::string> runnable_names;
  for (const ConvPoolVariant* variant : runnable) runnable_names.push_back(variant->name);
  const char* forced = std::getenv("TRAIN_GPU_CONV_POOL");
  if (forced != nullptr && *forced != '\0') return forced_kernel("TRAIN_GPU_CONV_POOL", forced, runnable_names);
  // Timed: the variants that give the bits the preferred one gives (every FMA build computes
  // each filter's sums in one order with one rounding per tap, whatever the vector width), so
  // the timing never changes a result; the baseline only where nothing else runs.
  std::vector<const ConvPoolVariant*> candidates;
  for (const ConvPoolVariant* variant : runnable) {
    if (variant->fused_multiply_add == runnable.front()->fused_multiply_add) candidates.push_back(variant);
  }
  std::vector<std::string> names;
  for (const ConvPoolVariant* variant : candidates) names.push_back(variant->name);
  if (candidates.size() == 1) return KernelChoice{names.front(), {}, ""};
  TimingBatch batch;
  return time_kernels(names, kTimingRounds, [&](std::size_t i) { return batch.seconds_with(*candidates[i]); });
}

// Decided on first use, once per process; use_conv_pool_variant replaces it.
struct InUse {
  std::atomic<const ConvPoolVariant*> variant{nullptr};
  std::mutex mutex;  // guards choice
  KernelChoice choice;
};

InUse& in_use() {
  static InUse state;
  return state;
}

const ConvPoolVariant& variant_in_use() {
  InUse& state = in_use();
  if (const ConvPoolVariant* variant = state.variant.load(std::memory_order_acquire)) return *variant;
  const std::lock_guard<std::mutex> lock(state.mutex);
  if (const ConvPoolVariant* variant = state.variant.load(std::memory_order_acquire)) return *variant;
  state.choice = choose_variant();
  const ConvPoolVariant& chosen = variant_named(state.choice.name);
  state.variant.store(&chosen, std::memory_order_release);
  return chosen;
}

}  // namespace

void conv_relu_pool_forward(const float* images, int count, const float* weight, const float* bias, float* pooled,
                            uint8_t* argmax, float* conv_maps) {
  if (count < 0) throw Error("conv_relu_pool_forward: count " + std::to_string(count) + " is negative");
  const ForwardImage forward_one = variant_in_use().forward;
  const TapMajorWeights weights = tap_major(weight);
  parallel_for(count, [&](int n) {
    forward_one(images + std::size_t(n) * kImagePixels, weights, bias, pooled + std::size_t(n) * kFlatFeatures,
                argmax + std::size_t(n) * kFlatFeatures,
                conv_maps == nullptr ? nullptr : conv_maps + std::size_t(n) * kConvOutputs);
  });
}

void conv_relu_pool_backward_params(const float* images, const float* dpooled, const uint8_t* argmax, int count,
                                    float* scratch, float* weight_grad, float* bias_grad) {
  if (count < 1) throw Error("conv_relu_pool_backward_params: count " + std::to_string(count) + " is not positive");
  const BackwardImage backward_one = variant_in_use().backward;
  parallel_for(count, [&](int n) {
    backward_one(images + std::size_t(n) * kImagePixels, dpooled + std::size_t(n) * kFlatFeatures,
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

std::string conv_pool_isa() { return variant_in_use().name; }

std::string conv_pool_choice() {
  variant_in_use();
  InUse& state = in_use();
  const std::lock_guard<std::mutex> lock(state.mutex);
  return describe(state.choice);
}

std::vector<std::string> conv_pool_variants() {
  std::vector<std::string> names;
  for (const ConvPoolVariant* variant : runnable_variants()) names.push_back(variant->name);
  return names;
}

void use_conv_pool_variant(const std::string& name) {
  InUse& state = in_use();
  const std::lock_guard<std::mutex> lock(state.mutex);
  const ConvPoolVariant& variant = variant_named(name);
  state.choice = KernelChoice{variant.name, {}, "use_conv_pool_variant"};
  state.variant.store(&variant, std::memory_order_release);
}

}  // namespace train_gpu::cpu
