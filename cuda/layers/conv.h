// The convolution layer, 1 -> 32 channels, 3x3, valid, stride 1, on cuDNN (see conv.cu).
// Bias and ReLU are added by launch_bias_activation, the bias gradient by launch_channel_sum.
#pragma once

#include <map>
#include <string>

#include "cuda/cudnn_api.h"
#include "cuda/handles.h"
#include "cuda/memory.h"
#include "host/model/convolution_algorithms.h"

namespace train_gpu::cuda {

struct ConvolutionOptions {
  int max_batch = 100;
  bool deterministic = false;  // deterministic algorithms only, chosen without timing
  bool tf32 = false;           // allow TF32 tensor-core math
  ConvolutionAlgorithms requested;  // run these when supported and allowed (see algorithm_choice.h)
};

class ConvolutionLayer {
 public:
  // Builds the descriptors, chooses the algorithms for max_batch (by benchmarking them with
  // cudnnFind*, which synchronizes and allocates temporarily; or, when deterministic or requested,
  // from cuDNN's untimed heuristics) and allocates the one workspace.
  // The handle must outlive the layer; its stream is the stream every call runs on.
  ConvolutionLayer(cudnnHandle_t cudnn, const ConvolutionOptions& options);

  // output (count, 32, 26, 26) = cross-correlation of images (count, 1, 28, 28) with
  // weight (32, 1, 3, 3); no bias. Overwrites. count <= max_batch.
  void forward(const float* images, const float* weight, int count, float* output);

  // weight_grad (32, 1, 3, 3) = sum over the batch of doutput (count, 32, 26, 26) correlated with
  // images (count, 1, 28, 28). Overwrites. No input gradient: this is the first layer.
  void backward_weight(const float* images, const float* doutput, int count, float* weight_grad);

  // "forward algo 1, backward-filter algo 1, workspace 0.1 MiB" for logs and tests.
  std::string describe() const;

  // Whether the forward / backward-filter descriptor's math type, read back from cuDNN, lets it
  // use tensor cores (anything but CUDNN_FMA_MATH; for fp32 data that means TF32).
  bool forward_may_use_tensor_cores() const;
  bool backward_may_use_tensor_cores() const;

  // The algorithms run at max_batch and how they were chosen.
  const ConvolutionAlgorithms& algorithms() const { return algorithms_; }

 private:
  // Descriptors and algorithms for one batch size; built on first use of that size (host-only
  // cuDNN queries, no device work, no sync) and kept.
  struct BatchShapes {
    TensorDescriptor input;   // (count, 1, 28, 28)
    TensorDescriptor output;  // (count, 32, 26, 26)
    cudnnConvolutionFwdAlgo_t forward_algorithm{};
    cudnnConvolutionBwdFilterAlgo_t backward_algorithm{};
  };
  BatchShapes& shapes_for(int count);
  BatchShapes make_shapes(int count) const;

  cudnnHandle_t cudnn_;
  ConvolutionOptions options_;
  FilterDescriptor filter_;                 // (32, 1, 3, 3)
  ConvolutionDescriptor forward_conv_;      // math type of the chosen forward algorithm
  ConvolutionDescriptor backward_conv_;     // math type of the chosen backward-filter algorithm
  cudnnConvolutionFwdAlgo_t forward_algorithm_{};
  cudnnConvolutionBwdFilterAlgo_t backward_algorithm_{};
  ConvolutionAlgorithms algorithms_;
  DeviceBuffer<unsigned char> workspace_;
  std::map<int, BatchShapes> shapes_;
};

}  // namespace train_gpu::cuda
