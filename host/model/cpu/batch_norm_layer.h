// BatchNormalization on the CPU through oneDNN's batch normalization primitives, per channel of
// an NCHW activation (after Flatten or Dense, each feature is a channel of a 1x1 image, as Keras's
// axis -1 normalizes there).
//
// Training: normalized with the batch's mean and biased variance (the 1/N one, oneDNN's), and the
// moving statistics updated as Keras 3 does (keras/src/layers/normalization/batch_normalization.py
// takes ops.moments, the biased variance, for both):
//   moving = moving * momentum + batch * (1 - momentum).
// Evaluation: normalized with the moving statistics, which it leaves alone.
// gamma and beta are the parameters "N.weight", "N.bias"; the moving statistics the buffers
// "N.running_mean", "N.running_var".
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class BatchNormLayer final : public CpuLayer {
 public:
  BatchNormLayer(const model::NetworkSpec& spec, int layer_index);
  ~BatchNormLayer() override;
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  struct Primitives;
  std::unique_ptr<Primitives> build(int count) const;
  Primitives& primitives(int count);

  model::LayerSpec layer_;
  std::size_t gamma_offset_, beta_offset_, mean_offset_, variance_offset_;
  std::vector<float> batch_mean_, batch_variance_;  // (channels): the last training forward's, for backward
  PerBatchCache<Primitives> cache_;
};

}  // namespace train_gpu::cpu
