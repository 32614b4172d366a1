#include "cuda/network/conv2d_layer.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "cuda/check.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/layers/algorithm_choice.h"
#include "cuda/layers/cudnn_candidates.h"
#include "cuda/math/pad_math.h"
#include "cuda/network/activation_layer.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

// The most workspace one algorithm may take: the direct and implicit-GEMM algorithms need little
// or none; the cap keeps a pathological FFT candidate from taking gigabytes per layer.
constexpr std::size_t kMaxWorkspaceBytes = std::size_t{256} << 20;

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// padded (planes, Hp, Wp) = input (planes, H, W) placed at (top, left), zeros around it. Writes
// every element, the border too, so the buffer needs no clearing between batch sizes.
__global__ void pad_kernel(const float* input, float* padded, size_t planes, int height, int width, int padded_height,
                           int padded_width, int top, int left) {
  const size_t plane_size = static_cast<size_t>(padded_height) * padded_width;
  const size_t total = planes * plane_size;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t plane = i / plane_size;
    const int p = static_cast<int>(i % plane_size);
    const int source = math::padded_source(p / padded_width, p % padded_width, height, width, top, left);
    padded[i] = source >= 0 ? input[plane * height * width + static_cast<size_t>(source)] : 0.0f;
  }
}

// dinput (planes, H, W) = the (top, left) interior of dpadded (planes, Hp, Wp): the padding's
// cells are constants, their gradient goes nowhere.
__global__ void crop_kernel(const float* dpadded, float* dinput, size_t planes, int height, int width,
                            int padded_height, int padded_width, int top, int left) {
  const size_t plane_size = static_cast<size_t>(height) * width;
  const size_t total = planes * plane_size;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t plane = i / plane_size;
    const int p = static_cast<int>(i % plane_size);
    dinput[i] = dpadded[plane * padded_height * padded_width +
                        static_cast<size_t>(math::padded_cell(p / width, p % width, padded_width, top, left))];
  }
}

void set_activation_descriptor(cudnnTensorDescriptor_t descriptor, int count, const model::Shape& shape) {
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(descriptor, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, shape.channels,
                                         shape.height, shape.width));
}

template <typename Algorithm>
Algorithm chosen_algorithm(const std::vector<AlgorithmCandidate>& candidates, const AlgorithmRequirements& needs,
                           int preferred, const std::string& what) {
  const int chosen = choose_algorithm(candidates, needs, preferred);
  if (chosen < 0) throw Error(what + ": " + describe_no_algorithm(what.c_str(), candidates, needs));
  return static_cast<Algorithm>(candidates[std::size_t(chosen)].algorithm);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layer

Conv2DLayer::Conv2DLayer(const model::NetworkSpec& spec, int layer_index, int max_batch, cudnnHandle_t cudnn,
                         const ConvolutionChoice& choice)
    : layer_(spec.layers.at(std::size_t(layer_index))),
      plan_(plan_convolution(layer_)),
      max_batch_(max_batch),
      cudnn_(cudnn),
      choice_(choice),
      filter_(make_filter_descriptor()),
      convolution_(make_convolution_descriptor()) {
  if (layer_.kind != model::LayerKind::kConv2D) throw Error("cuda Conv2DLayer: layer " + layer_.name + " is not a Conv2D");
  weight_offset_ = spec.parameter_offset(layer_, 0);
  bias_offset_ = spec.bias_offset(layer_);
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(filter_.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, layer_.units,
                                         layer_.input.channels, layer_.kernel_h, layer_.kernel_w));
  // Cross-correlation, as TensorFlow and PyTorch define "convolution".
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(convolution_.get(), plan_.pad_h, plan_.pad_w, layer_.stride_h,
                                              layer_.stride_w, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FP32 FMA kernels unless TF32 is allowed, as for the tutorial's convolution (conv.cu).
  CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_.get(), choice.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));

  BatchShapes largest = make_shapes(max_batch, kMaxWorkspaceBytes);
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(convolution_.get(), largest.input.get(), filter_.get(), &n, &c, &h, &w));
  if (c != layer_.output.channels || h != layer_.output.height || w != layer_.output.width) {
    throw Error("cuda Conv2DLayer " + layer_.name + ": cuDNN computes an output of " + std::to_string(c) + "x" +
                std::to_string(h) + "x" + std::to_string(w) + ", the spec " + model::to_string(layer_.output));
  }
  workspace_ = DeviceBuffer<unsigned char>(largest.workspace_bytes, "a convolution workspace");
  if (plan_.explicit_padding) {
    const std::size_t padded = std::size_t(max_batch) * std::size_t(plan_.convolved.size());
    padded_ = DeviceBuffer<float>(padded, "a padded convolution input");
    dpadded_ = DeviceBuffer<float>(padded, "a padded convolution input's gradient");
  }
  shapes_.emplace(max_batch, std::move(largest));
}

Conv2DLayer::BatchShapes Conv2DLayer::make_shapes(int count, std::size_t max_workspace) const {
  BatchShapes shapes;
  shapes.input = make_tensor_descriptor();
  shapes.output = make_tensor_descriptor();
  set_activation_descriptor(shapes.input.get(), count, plan_.convolved);
  set_activation_descriptor(shapes.output.get(), count, layer_.output);
  AlgorithmRequirements needs;
  needs.deterministic_only = choice_.deterministic;
  needs.allow_tensor_cores = choice_.tf32;
  needs.max_workspace_bytes = max_workspace;
  const std::string what = "Conv2D layer " + layer_.name + " at batch " + std::to_string(count);
  int returned = 0;

  cudnnConvolutionFwdAlgoPerf_t forward[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, shapes.input.get(), filter_.get(), convolution_.get(),
                                                     shapes.output.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                     forward));
  shapes.forward = chosen_algorithm<cudnnConvolutionFwdAlgo_t>(to_candidates(forward, returned), needs,
                                                                choice_.requested.forward, what + " forward");

  cudnnConvolutionBwdDataAlgoPerf_t backward_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn_, filter_.get(), shapes.output.get(),
                                                          convolution_.get(), shapes.input.get(),
                                                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                                          backward_data));
  const int preferred_data = choice_.requested.chosen() ? int(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1) : -1;
  shapes.backward_data = chosen_algorithm<cudnnConvolutionBwdDataAlgo_t>(
      to_candidates(backward_data, returned), needs, preferred_data, what + " backward-data");

  cudnnConvolutionBwdFilterAlgoPerf_t backward_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_, shapes.input.get(), shapes.output.get(),
                                                            convolution_.get(), filter_.get(),
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                            backward_filter));
  shapes.backward_filter = chosen_algorithm<cudnnConvolutionBwdFilterAlgo_t>(
      to_candidates(backward_filter, returned), needs, choice_.requested.backward_filter, what + " backward-filter");

  std::size_t bytes[3] = {0, 0, 0};
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, shapes.input.get(), filter_.get(), convolution_.get(),
                                                      shapes.output.get(), shapes.forward, &bytes[0]));
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn_, filter_.get(), shapes.output.get(),
                                                           convolution_.get(), shapes.input.get(), shapes.backward_data,
                                                           &bytes[1]));
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn_, shapes.input.get(), shapes.output.get(),
                                                             convolution_.get(), filter_.get(), shapes.backward_filter,
                                                             &bytes[2]));
  shapes.workspace_bytes = std::max({bytes[0], bytes[1], bytes[2]});
  return shapes;
}

Conv2DLayer::BatchShapes& Conv2DLayer::shapes_for(int count) {
  if (count < 1 || count > max_batch_) {
    throw Error("Conv2D layer " + layer_.name + ": batch of " + std::to_string(count) + " images, built for 1.." +
                std::to_string(max_batch_));
  }
  auto found = shapes_.find(count);
  // Smaller batches choose within the workspace allocated for max_batch.
  if (found == shapes_.end()) found = shapes_.emplace(count, make_shapes(count, workspace_.bytes())).first;
  return found->second;
}

void Conv2DLayer::forward(const LayerForward& args) {
  BatchShapes& shapes = shapes_for(args.count);
  const float* convolved = args.input;
  if (plan_.explicit_padding) {
    const std::size_t planes = std::size_t(args.count) * std::size_t(layer_.input.channels);
    pad_kernel<<<blocks_for(planes * std::size_t(plan_.convolved.height) * std::size_t(plan_.convolved.width)),
                 kThreadsPerBlock, 0, args.stream>>>(args.input, padded_.data(), planes, layer_.input.height,
                                                     layer_.input.width, plan_.convolved.height,
                                                     plan_.convolved.width, layer_.pad_top, layer_.pad_left);
    CUDA_CHECK(cudaGetLastError());
    convolved = padded_.data();
  }
  // Y = f(X ⋆ W + b)
  CUDNN_CHECK(cudnnConvolutionForward(cudnn_, &kOne, shapes.input.get(), convolved, filter_.get(),
                                      args.parameters + weight_offset_, convolution_.get(), shapes.forward,
                                      workspace_.data(), workspace_.bytes(), &kZero, shapes.output.get(), args.output));
  if (bias_relu_in_pooling_) return;
  const int plane = layer_.output.height * layer_.output.width;
  if (bias_offset_ >= 0) {
    launch_bias_activation(args.output, args.parameters + bias_offset_, args.count, layer_.units, plane, false,
                           args.stream);
  }
  launch_activation_forward(layer_.activation, args.output, std::size_t(args.count) * std::size_t(layer_.output.size()),
                            args.stream);
}

void Conv2DLayer::backward(const LayerBackward& args) {
  BatchShapes& shapes = shapes_for(args.count);
  // dZ = f'(Z) ⊙ dY in place; dW = dZ ⋆ X (backward-filter); db = per-channel sums of dZ;
  // dX = dZ ⋆ W^T (backward-data), through the padded copy's gradient when padding is explicit.
  // With the bias and ReLU in the pooling, dY arrives as dZ and db is written.
  if (!bias_relu_in_pooling_) {
    launch_activation_backward(layer_.activation, args.output, args.doutput,
                               std::size_t(args.count) * std::size_t(layer_.output.size()), args.stream);
  }
  const float* convolved = plan_.explicit_padding ? padded_.data() : args.input;  // what forward convolved
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_, &kOne, shapes.input.get(), convolved, shapes.output.get(),
                                             args.doutput, convolution_.get(), shapes.backward_filter,
                                             workspace_.data(), workspace_.bytes(), &kZero, filter_.get(),
                                             args.gradients + weight_offset_));
  if (bias_offset_ >= 0 && !bias_relu_in_pooling_) {
    launch_channel_sum(args.doutput, args.count, layer_.units, layer_.output.height * layer_.output.width,
                       args.gradients + bias_offset_, args.stream);
  }
  if (!args.need_dinput) return;
  float* dconvolved = plan_.explicit_padding ? dpadded_.data() : args.dinput;
  CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_, &kOne, filter_.get(), args.parameters + weight_offset_,
                                           shapes.output.get(), args.doutput, convolution_.get(), shapes.backward_data,
                                           workspace_.data(), workspace_.bytes(), &kZero, shapes.input.get(),
                                           dconvolved));
  if (plan_.explicit_padding) {
    const std::size_t planes = std::size_t(args.count) * std::size_t(layer_.input.channels);
    crop_kernel<<<blocks_for(planes * std::size_t(layer_.input.height) * std::size_t(layer_.input.width)),
                  kThreadsPerBlock, 0, args.stream>>>(dpadded_.data(), args.dinput, planes, layer_.input.height,
                                                      layer_.input.width, plan_.convolved.height,
                                                      plan_.convolved.width, layer_.pad_top, layer_.pad_left);
    CUDA_CHECK(cudaGetLastError());
  }
}

ConvolutionAlgorithms Conv2DLayer::algorithms() const {
  const BatchShapes& shapes = shapes_.at(max_batch_);
  ConvolutionAlgorithms algorithms;
  algorithms.forward = int(shapes.forward);
  algorithms.backward_filter = int(shapes.backward_filter);
  algorithms.how = "heuristic (cudnnGet*_v7, untimed)";
  return algorithms;
}

std::string Conv2DLayer::describe() const {
  const BatchShapes& shapes = shapes_.at(max_batch_);
  std::ostringstream out;
  out << layer_.name << ": forward " << int(shapes.forward) << ", backward-data " << int(shapes.backward_data)
      << ", backward-filter " << int(shapes.backward_filter) << ", workspace " << mebibytes(workspace_.bytes())
      << (plan_.explicit_padding ? ", padded explicitly" : "");
  return out.str();
}

}  // namespace train_gpu::cuda
