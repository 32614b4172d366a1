// Any NetworkSpec on the CPU: one CpuLayer per layer kind (this folder), run forward through the
// spec's layer list and backward in reverse, with every activation and activation gradient
// allocated once for max_batch images (no allocation per step; oneDNN's primitives are created on
// a batch size's first use and cached) and the parameter gradients written into the one gradient
// arena at the spec's offsets.
//
// Fast paths are recognized, not hard-wired: a Conv2D + MaxPooling2D pair that the fused kernels
// of cpu_conv_pool.h compute (FusedConvPoolLayer::fits) runs through them. The tutorial's network
// is such a pair followed by Flatten (a view: no copy) and two Dense layers, which makes it the
// same calls, in the same order, on the same buffers' values as before specs: bit-identical
// (tests/cpu_network_test.cpp compares it with cpu_layers.h's network_forward/backward).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/network_spec.h"

namespace train_gpu::cpu {

struct CpuNetworkOptions {
  // Conv2D: Winograd F(4x4, 3x3) for the forward pass and the weight gradients of the 3x3
  // stride-1 convolutions oneDNN has it for (conv2d_layer.h); false: direct sums everywhere.
  bool winograd = false;
};

// The unfused layer object for spec layer `index` (null for Flatten), as the network builds it
// where no fused pair applies.
std::unique_ptr<CpuLayer> make_cpu_layer(const model::NetworkSpec& spec, int index, int max_batch,
                                         const CpuNetworkOptions& options = {});

class CpuNetwork {
 public:
  CpuNetwork(const model::NetworkSpec& spec, int max_batch, const CpuNetworkOptions& options = {});
  ~CpuNetwork();
  CpuNetwork(const CpuNetwork&) = delete;
  CpuNetwork& operator=(const CpuNetwork&) = delete;

  const model::NetworkSpec& spec() const { return spec_; }
  int max_batch() const { return max_batch_; }

  // (max_batch, C, H, W): the caller writes the batch's scaled images here.
  float* images() { return activations_[0]; }

  struct Pass {
    bool training = false;  // dropout drops and BatchNorm uses (and updates `buffers` with) batch statistics
    uint64_t seed = 0;      // dropout's mask key, with step and layer (cuda/math/dropout_math.h)
    int64_t step = 0;
    int64_t first_sample = 0;  // the batch's first image's place in the global batch (distributed/batch_slice.h)
    float* fused_conv_maps = nullptr;  // when not null and a fused conv + pool pair runs: its conv's maps
    bool layer_outputs = false;  // every layer_output() written (features); otherwise a convolution
                                 // whose pooling reads its blocked output skips the plain copy
  };

  // Forward of images()[0, count) with the parameter and buffer arenas of the spec.
  void forward(const float* parameters, float* buffers, int count, const Pass& pass);

  // (count, classes) after forward.
  const float* logits() const { return activations_.back(); }
  // (max_batch, classes): d(loss)/d(logits), written by the caller before backward.
  float* dlogits() { return gradients_.back(); }

  // Backward from dlogits() after a forward on the same batch: overwrites the whole gradient
  // arena (spec.parameter_count floats). dlogits() and the other activation gradients are
  // scratch afterwards.
  void backward(const float* parameters, int count, float* gradients);

  // Layer `layer`'s output after forward, (count, layers[layer].output); null for a Conv2D whose
  // maps a fused pair never materializes (ask forward for them: Pass::fused_conv_maps). Written
  // for every layer only by a forward with Pass::layer_outputs.
  const float* layer_output(int layer) const { return activations_.at(std::size_t(layer) + 1); }
  // True when layer `layer` runs fused with the one after it.
  bool fused(int layer) const;
  // The layer object that runs layer `layer` (the pair's for a fused second layer); null for Flatten.
  CpuLayer* layer(int layer) const;

 private:
  struct Stage;
  void check_count(int count, const char* operation) const;

  model::NetworkSpec spec_;
  int max_batch_;
  std::vector<Stage> stages_;
  std::vector<std::vector<float>> storage_;  // the arrays behind activations_ and gradients_
  std::vector<float*> activations_;  // [k]: layer k-1's output (k = 0: the images); aliases across Flatten
  std::vector<float*> gradients_;    // [k]: d loss / d activations_[k]
};

}  // namespace train_gpu::cpu
