// Any NetworkSpec on the GPU: one CudaLayer per layer kind (this folder), run forward through the
// spec's layer list and backward in reverse, the twin of host/model/cpu/cpu_network.h. Every
// activation and activation gradient lives in ONE device allocation, carved into views for
// max_batch images at offsets computed once from the spec (as llm.c carves its activations); the
// parameters, gradients and buffers are the caller's arenas in the spec's layout. Flatten is a
// view (no copy): its output aliases its input, its input gradient its output gradient.
//
// Everything is enqueued on the stream the handles are bound to; nothing synchronizes and, after
// construction, nothing allocates (cuDNN descriptors for a new batch size are host-only).
// The tutorial's network runs through cuda/cuda_backend.cu's hand-fused kernels, chosen by
// make_backend; this is the general path for every other spec. --kernels fused and --pooling
// cudnn (NetworkKernels) change what some layers launch, where fusion_plan.h says they can: the
// same layer objects, each choosing its variant, and nothing else here differs.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cudnn_api.h"
#include "cuda/kernel_choice.h"
#include "cuda/layers/dense_epilogue.h"
#include "cuda/memory.h"
#include "cuda/network/conv2d_layer.h"
#include "cuda/network/cuda_layer.h"
#include "cuda/network/fusion_plan.h"
#include "host/model/network_spec.h"

namespace train_gpu::cuda {

// The layer object for spec layer `layer_index` (null for Flatten), as the network builds it;
// the handles must be bound to the stream the layer will be run on. `fusion` is its entry of
// plan_fusion(); a Dense layer's epilogues are wired by the network (they need its neighbours).
std::unique_ptr<CudaLayer> make_cuda_layer(const model::NetworkSpec& spec, int layer_index, int max_batch,
                                           cudnnHandle_t cudnn, cublasHandle_t cublas, const ConvolutionChoice& choice,
                                           const LayerFusion& fusion = LayerFusion{});

// --kernels and --pooling for a spec network, and what the cuBLASLt epilogues may use.
struct NetworkKernels {
  KernelSet kernels = KernelSet::kClassic;
  PoolingKind pooling = PoolingKind::kFused;
  void* cublas_workspace = nullptr;  // shared with the cuBLAS handle: the same stream runs both
  std::size_t cublas_workspace_bytes = 0;
  bool tf32 = false;
};

class CudaNetwork {
 public:
  // The handles must be bound to `stream` and outlive the network. Throws for --pooling cudnn on
  // a layer cuDNN cannot pool as Keras does (plan_fusion).
  CudaNetwork(const model::NetworkSpec& spec, int max_batch, cudnnHandle_t cudnn, cublasHandle_t cublas,
              cudaStream_t stream, const ConvolutionChoice& choice, const NetworkKernels& kernels = NetworkKernels{});
  ~CudaNetwork();
  CudaNetwork(const CudaNetwork&) = delete;
  CudaNetwork& operator=(const CudaNetwork&) = delete;

  const model::NetworkSpec& spec() const { return spec_; }
  int max_batch() const { return max_batch_; }

  // (max_batch, C, H, W): the loader writes the batch's scaled images here.
  float* images() { return activations_[0]; }

  struct Pass {
    bool training = false;         // dropout drops and BatchNorm uses (and updates `buffers` with) batch statistics
    uint64_t seed = 0;             // dropout's mask key, with step and layer (cuda/math/dropout_math.h)
    math::PerStep<int64_t> step;   // t, or the device's step counter (math::forward_step)
    int64_t first_sample = 0;      // a rank's slice: its first image's place in the global batch
    bool keep_outputs = false;     // layer_output() of every layer afterwards, fused or not
  };

  // Forward of images()[0, count) with the parameter and buffer arenas (device pointers).
  void forward(const float* parameters, float* buffers, int count, const Pass& pass);

  // (count, classes) after forward.
  const float* logits() const { return activations_.back(); }
  // (max_batch, classes): d(loss)/d(logits), written by the caller before backward.
  float* dlogits() { return gradients_.back(); }

  // Backward from dlogits() after a training forward on the same batch: overwrites the whole
  // gradient arena (spec.parameter_count floats). dlogits() and the other activation gradients
  // are scratch afterwards.
  void backward(const float* parameters, int count, float* gradients);

  // Layer `layer`'s output after forward, (count, layers[layer].output).
  const float* layer_output(int layer) const { return activations_.at(std::size_t(layer) + 1); }
  // The layer object that runs layer `layer`; null for Flatten.
  CudaLayer* layer(int layer) const { return layers_.at(std::size_t(layer)).get(); }

  // The convolutions' algorithms at max_batch, one "name: ..." entry per Conv2D layer.
  std::string describe_convolutions() const;
  // The first Conv2D layer's algorithms at max_batch (none without a Conv2D layer).
  ConvolutionAlgorithms conv_algorithms() const;
  // What --kernels/--pooling changed, by layer name, for the execution report ("" when nothing):
  // "fused: dense_1 forward, weight+bias, ...; cudnn pooling: max_pooling2d" plus cuBLASLt's word.
  std::string describe_fusion(int count) const;

 private:
  void check_count(int count, const char* operation) const;

  model::NetworkSpec spec_;
  int max_batch_;
  cudaStream_t stream_;
  FusionPlan fusion_;
  std::unique_ptr<EpilogueDense> epilogues_;        // --kernels fused with a fusable Dense layer
  std::vector<std::unique_ptr<CudaLayer>> layers_;  // [i]: layer i; null for Flatten
  std::vector<bool> need_dinput_;                   // [i]: a layer before i has parameters
  DeviceBuffer<float> storage_;                     // every activation and activation gradient
  std::vector<float*> activations_;  // [k]: layer k-1's output (k = 0: the images); aliases across Flatten
  std::vector<float*> gradients_;    // [k]: d loss / d activations_[k]
};

}  // namespace train_gpu::cuda
