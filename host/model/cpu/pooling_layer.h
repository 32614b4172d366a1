// MaxPooling2D and AveragePooling2D on the CPU through oneDNN's pooling primitives, with
// Keras's semantics for same padding: padded cells never win a max window and are left out of
// an average's count (pooling_avg_exclude_padding), as tf.nn.avg_pool does. Max pooling keeps
// oneDNN's workspace (the winners) from forward for backward. Primitives, and the workspace, are
// created once per batch size and cached.
#pragma once

#include <memory>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class PoolingLayer final : public CpuLayer {
 public:
  PoolingLayer(const model::NetworkSpec& spec, int layer_index);
  ~PoolingLayer() override;
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  struct Primitives;
  std::unique_ptr<Primitives> build(int count) const;
  Primitives& primitives(int count);

  model::LayerSpec layer_;
  PerBatchCache<Primitives> cache_;
};

}  // namespace train_gpu::cpu
