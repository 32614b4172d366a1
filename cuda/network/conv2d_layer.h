// Conv2D on the GPU through cuDNN's classic convolution API (forward, backward-data,
// backward-filter), NCHW activations and PyTorch's (filters, in_channels, kh, kw) weights,
// TensorFlow's asymmetric same padding through an explicit padded copy where cuDNN's symmetric
// padding cannot express it (layer_plan.h), optional bias, its activation applied in place to its
// output: the twin of host/model/cpu/conv2d_layer.h.
//
// Set up once: the filter and convolution descriptors in the constructor; tensor descriptors and
// the three algorithms once per batch size (host-only cuDNN queries, no device work, no sync),
// cached; one workspace sized at max_batch for the largest of the three. Algorithms come from
// cuDNN's untimed heuristics (cudnnGet*_v7), never cudnnFind: a network has several convolutions
// and every batch size would time each, synchronizing and allocating; the heuristics are a
// function of the GPU, library and shapes, so a rerun repeats them. A requested pair
// (BackendOptions::conv_algorithms) is preferred for forward and backward-filter where cuDNN
// supports it, and backward-data then prefers ALGO_1, cuDNN's deterministic direct sum.
//
// --kernels fused, before a 2x2 max pooling (fusion_plan.h): leave_bias_relu_to_pooling() makes
// forward write the raw convolution, whose bias and ReLU the pooling kernel applies (writing the
// activated map back when a pass keeps layer outputs), and backward take the gradient the pooling
// kernel already masked, with the bias gradient it already summed.
#pragma once

#include <map>
#include <string>

#include "cuda/cudnn_api.h"
#include "cuda/handles.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"
#include "cuda/network/layer_plan.h"
#include "host/model/convolution_algorithms.h"

namespace train_gpu::cuda {

struct ConvolutionChoice {
  bool deterministic = false;       // deterministic algorithms only
  bool tf32 = false;                // allow TF32 tensor-core math
  ConvolutionAlgorithms requested;  // preferred where supported (a test's pin of direct sums)
};

class Conv2DLayer final : public CudaLayer {
 public:
  // The handle must outlive the layer; it runs on the network's stream.
  Conv2DLayer(const model::NetworkSpec& spec, int layer_index, int max_batch, cudnnHandle_t cudnn,
              const ConvolutionChoice& choice);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // Bias and ReLU to the next (pooling) layer: forward writes X ⋆ W, backward gets dZ and db.
  void leave_bias_relu_to_pooling() { bias_relu_in_pooling_ = true; }

  // "conv2d_1: forward 1, backward-data 1, backward-filter 1, workspace 0.1 MiB" at max_batch.
  std::string describe() const;
  // The algorithms at max_batch.
  ConvolutionAlgorithms algorithms() const;

 private:
  struct BatchShapes {
    TensorDescriptor input;   // (count, convolved)
    TensorDescriptor output;  // (count, layer.output)
    cudnnConvolutionFwdAlgo_t forward{};
    cudnnConvolutionBwdDataAlgo_t backward_data{};
    cudnnConvolutionBwdFilterAlgo_t backward_filter{};
    std::size_t workspace_bytes = 0;
  };
  BatchShapes make_shapes(int count, std::size_t max_workspace) const;
  BatchShapes& shapes_for(int count);

  model::LayerSpec layer_;
  ConvolutionPlan plan_;
  int max_batch_;
  cudnnHandle_t cudnn_;
  ConvolutionChoice choice_;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
  bool bias_relu_in_pooling_ = false;
  FilterDescriptor filter_;
  ConvolutionDescriptor convolution_;
  DeviceBuffer<unsigned char> workspace_;
  DeviceBuffer<float> padded_;   // explicit padding: the padded input (max_batch, convolved)
  DeviceBuffer<float> dpadded_;  // explicit padding: its gradient
  std::map<int, BatchShapes> shapes_;
};

}  // namespace train_gpu::cuda
