// MaxPooling2D and AveragePooling2D on the CPU through oneDNN's pooling primitives, with
// Keras's semantics for same padding: padded cells never win a max window and are left out of
// an average's count (pooling_avg_exclude_padding), as tf.nn.avg_pool does. Max pooling keeps
// oneDNN's workspace (the winners) from forward for backward. Primitives, and the workspace, are
// created once per batch size and cached.
//
// After a Conv2D (read_from), the pooling reads the convolution's output in the blocked layout
// oneDNN computed it in and writes the input gradient there too (Conv2DLayer::blocked_handoff):
// args.input and args.dinput are then left alone (the plain output stays the convolution's copy
// for layer_output and the features; the plain input gradient is not needed by anyone).
#pragma once

#include <memory>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class Conv2DLayer;

class PoolingLayer final : public CpuLayer {
 public:
  PoolingLayer(const model::NetworkSpec& spec, int layer_index);
  ~PoolingLayer() override;
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // Pool `convolution`'s blocked output, the layer right before this one (cpu_network.cpp).
  void read_from(Conv2DLayer& convolution);

 private:
  struct Primitives;
  std::unique_ptr<Primitives> build(int count) const;
  Primitives& primitives(int count);

  model::LayerSpec layer_;
  Conv2DLayer* convolution_ = nullptr;  // not owned: the network's, as this layer is
  PerBatchCache<Primitives> cache_;
};

}  // namespace train_gpu::cpu
