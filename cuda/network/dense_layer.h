// Dense (Keras's Dense, PyTorch's Linear) on the GPU: weight (units, in_features), optional
// bias, its activation applied in place to its output. The products are cuda/layers/dense.h's
// cuBLAS SGEMMs, the tutorial's own; the bias add is launch_bias_activation and the bias
// gradient launch_channel_sum (plane 1), as for the tutorial's dense layers.
//
// --kernels fused (fusion_plan.h, use_epilogues): the tutorial's cuBLASLt epilogues instead,
// per batch size where EpilogueDense::supports() says so: forward relu/linear with the bias in
// one GEMM, dW and db in one GEMM, and, after a Dense relu, the input gradient masked by that
// layer's ReLU with its bias gradient. The ReLU mask lives with the layer whose forward writes it.
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <cstdint>

#include "cuda/layers/dense_epilogue.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"
#include "cuda/network/fusion_plan.h"

namespace train_gpu::cuda {

class DenseLayer final : public CudaLayer {
 public:
  // The handle must outlive the layer; it runs on the network's stream.
  DenseLayer(const model::NetworkSpec& spec, int layer_index, cublasHandle_t cublas);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // Runs the epilogues `fusion` names where cuBLASLt supports them. `previous` is the Dense relu
  // layer before this one when fusion.epilogue_input_relu (its ReLU mask and bias gradient are
  // then this layer's backward's); both must outlive this layer, as must `epilogues`.
  void use_epilogues(const LayerFusion& fusion, EpilogueDense& epilogues, DenseLayer* previous, int max_batch);

  // Whether a batch of `count` runs these through cuBLASLt (host-only; asked once per shape).
  bool epilogue_forward(int count) const;
  bool epilogue_weight_bias(int count) const;
  bool epilogue_input_relu(int count) const;

 private:
  cublasHandle_t cublas_;
  int in_features_, units_;
  model::Activation activation_;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
  LayerFusion fusion_;
  EpilogueDense* epilogues_ = nullptr;
  DenseLayer* previous_ = nullptr;  // epilogue_input_relu: the Dense relu whose mask it reads
  DenseLayer* next_ = nullptr;      // the Dense that may take over this layer's ReLU and bias gradient
  DeviceBuffer<uint8_t> relu_mask_;  // relu epilogue: cuBLASLt's bits, (max_batch, units)
};

}  // namespace train_gpu::cuda
