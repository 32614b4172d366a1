// The tutorial's first two layers as one: a Conv2D 32 3x3 valid stride-1 ReLU with bias on a
// 1x28x28 input followed by a MaxPooling2D 2x2 (stride 2, valid), through cpu_conv_pool.h's fused
// per-image kernels. The network (cpu_network.h) recognizes this pair in any spec (fits());
// the tutorial's network then runs exactly the code, in exactly the order, it ran before specs.
#pragma once

#include <vector>

#include "host/model/cpu/cpu_layer.h"

namespace train_gpu::cpu {

class FusedConvPoolLayer final : public CpuLayer {
 public:
  // True when layers[index] and layers[index + 1] are the pair the fused kernels compute and no
  // layer before them has parameters (the kernels compute no input gradient).
  static bool fits(const model::NetworkSpec& spec, int index);

  // The pair starting at layers[index]; forward reads the conv's input, writes the pool's output.
  FusedConvPoolLayer(const model::NetworkSpec& spec, int index, int max_batch);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  std::size_t weight_offset_, bias_offset_;
  std::vector<uint8_t> argmax_;          // (max_batch, 5408): each window's winner
  std::vector<float> conv_gradients_;    // per-image partial sums of the parameter gradients
};

}  // namespace train_gpu::cpu
