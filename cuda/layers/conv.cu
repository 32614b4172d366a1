// The convolution on cuDNN's classic API (cudnnConvolutionForward / cudnnConvolutionBackwardFilter).
//
// Classic API, not the graph (backend) API, because:
// - cuDNN 9 deprecates the classic API but still ships and supports it throughout 9.x, and
//   cuDNN only warns when asked (CUDNN_WARN_DEPRECATED, handled once in cuda/cudnn_api.h);
// - the graph API's pooling backward is not a graph node, so the network would need the classic
//   API (or a kernel) anyway; we use kernels for pooling (pool.cu) and keep cuDNN to this file;
// - a 1-channel 3x3 convolution needs two operations whose classic form is ~30 calls, against
//   several hundred lines of descriptor building (or the C++ frontend as a new dependency);
// - cudnnFind* gives measured, ordered candidates with a determinism field, which is exactly
//   what --deterministic needs.
// When a future cuDNN major release drops the classic API, this file is the one to port.
//
// Set up once: descriptors, algorithm choice (benchmarked at max_batch) and the workspace are
// decided in the constructor; forward/backward never allocate. Smaller batches (an epoch's last,
// evaluation, single images) reuse the max_batch algorithms when cuDNN accepts them within the
// workspace, else take cuDNN's heuristic choice for that size (host-only queries, no sync).
//
// Math: --tf32 off (the default) requests CUDNN_FMA_MATH, plain FP32 FMA kernels, and rejects any
// candidate reporting a tensor-op math type; --tf32 on requests CUDNN_DEFAULT_MATH, which on
// Ampere and newer permits TF32 tensor cores.
#include "cuda/layers/conv.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <utility>
#include <vector>

#include "cuda/check.h"
#include "cuda/layers/algorithm_choice.h"
#include "host/common/error.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda {
namespace {

// The largest workspace an algorithm may ask for. The winners for this tiny filter need far
// less; the cap only keeps a pathological FFT candidate from taking gigabytes.
constexpr std::size_t kMaxWorkspaceBytes = std::size_t{256} << 20;

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

bool is_tensor_op(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

template <typename Perf>
std::vector<AlgorithmCandidate> to_candidates(const Perf* results, int returned) {
  std::vector<AlgorithmCandidate> candidates;
  for (int i = 0; i < returned; ++i) {
    AlgorithmCandidate c;
    c.algorithm = static_cast<int>(results[i].algo);
    c.succeeded = results[i].status == CUDNN_STATUS_SUCCESS;
    c.deterministic = results[i].determinism == CUDNN_DETERMINISTIC;
    c.tensor_core_math = is_tensor_op(results[i].mathType);
    c.workspace_bytes = results[i].memory;
    candidates.push_back(c);
  }
  return candidates;
}

AlgorithmRequirements requirements(const ConvolutionOptions& options, std::size_t max_workspace) {
  AlgorithmRequirements needs;
  needs.deterministic_only = options.deterministic;
  needs.allow_tensor_cores = options.tf32;
  needs.max_workspace_bytes = max_workspace;
  return needs;
}

void set_batch_descriptors(cudnnTensorDescriptor_t input, cudnnTensorDescriptor_t output, int count) {
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(input, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, 1, model::kImageSide,
                                         model::kImageSide));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(output, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, count, model::kConvFilters,
                                         model::kConvSide, model::kConvSide));
}

}  // namespace

ConvolutionLayer::ConvolutionLayer(cudnnHandle_t cudnn, const ConvolutionOptions& options)
    : cudnn_(cudnn),
      options_(options),
      filter_(make_filter_descriptor()),
      forward_conv_(make_convolution_descriptor()),
      backward_conv_(make_convolution_descriptor()) {
  if (options.max_batch <= 0) throw Error("convolution: max_batch must be positive");
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(filter_.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, model::kConvFilters, 1,
                                         model::kConvKernel, model::kConvKernel));
  const cudnnMathType_t requested_math = options.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  for (cudnnConvolutionDescriptor_t conv : {forward_conv_.get(), backward_conv_.get()}) {
    // Cross-correlation, as TensorFlow and PyTorch define "convolution".
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, requested_math));
  }

  TensorDescriptor input = make_tensor_descriptor();
  TensorDescriptor output = make_tensor_descriptor();
  set_batch_descriptors(input.get(), output.get(), options.max_batch);
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(forward_conv_.get(), input.get(), filter_.get(), &n, &c, &h, &w));
  if (n != options.max_batch || c != model::kConvFilters || h != model::kConvSide || w != model::kConvSide) {
    throw Error("convolution: cuDNN computes output shape (" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                std::to_string(h) + ", " + std::to_string(w) + "), expected (" + std::to_string(options.max_batch) +
                ", 32, 26, 26)");
  }

  const AlgorithmRequirements needs = requirements(options, kMaxWorkspaceBytes);
  {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(cudnn_, input.get(), filter_.get(), forward_conv_.get(),
                                                     output.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                     results));
    const std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
    const int chosen = choose_algorithm(candidates, needs);
    if (chosen < 0) throw Error("convolution forward: " + describe_no_algorithm("forward", candidates, needs));
    forward_algorithm_ = results[chosen].algo;
    // cuDNN's documented rule: run an algorithm with the math type it was measured with. In FP32
    // mode the descriptor keeps CUDNN_FMA_MATH, so nothing can switch TF32 on behind our back.
    if (options.tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(forward_conv_.get(), results[chosen].mathType));
  }
  {
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int returned = 0;
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(cudnn_, input.get(), output.get(), backward_conv_.get(),
                                                            filter_.get(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                            &returned, results));
    const std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
    const int chosen = choose_algorithm(candidates, needs);
    if (chosen < 0) {
      throw Error("convolution backward-filter: " + describe_no_algorithm("backward-filter", candidates, needs));
    }
    backward_algorithm_ = results[chosen].algo;
    if (options.tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(backward_conv_.get(), results[chosen].mathType));
  }

  std::size_t forward_bytes = 0;
  std::size_t backward_bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, input.get(), filter_.get(), forward_conv_.get(),
                                                      output.get(), forward_algorithm_, &forward_bytes));
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn_, input.get(), output.get(), backward_conv_.get(),
                                                             filter_.get(), backward_algorithm_, &backward_bytes));
  workspace_ = DeviceBuffer<unsigned char>(std::max(forward_bytes, backward_bytes), "the convolution workspace");

  BatchShapes max_shapes;
  max_shapes.input = std::move(input);
  max_shapes.output = std::move(output);
  max_shapes.forward_algorithm = forward_algorithm_;
  max_shapes.backward_algorithm = backward_algorithm_;
  shapes_.emplace(options.max_batch, std::move(max_shapes));
}

ConvolutionLayer::BatchShapes ConvolutionLayer::make_shapes(int count) const {
  BatchShapes shapes;
  shapes.input = make_tensor_descriptor();
  shapes.output = make_tensor_descriptor();
  set_batch_descriptors(shapes.input.get(), shapes.output.get(), count);
  const AlgorithmRequirements needs = requirements(options_, workspace_.bytes());

  std::size_t bytes = 0;
  cudnnStatus_t status = cudnnGetConvolutionForwardWorkspaceSize(cudnn_, shapes.input.get(), filter_.get(),
                                                                 forward_conv_.get(), shapes.output.get(),
                                                                 forward_algorithm_, &bytes);
  if (status == CUDNN_STATUS_SUCCESS && bytes <= workspace_.bytes()) {
    shapes.forward_algorithm = forward_algorithm_;
  } else {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, shapes.input.get(), filter_.get(), forward_conv_.get(),
                                                       shapes.output.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                       &returned, results));
    const std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
    const int chosen = choose_algorithm(candidates, needs);
    if (chosen < 0) throw Error("convolution forward, batch " + std::to_string(count) + ": " +
                                describe_no_algorithm("forward", candidates, needs));
    shapes.forward_algorithm = results[chosen].algo;
  }

  status = cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn_, shapes.input.get(), shapes.output.get(),
                                                          backward_conv_.get(), filter_.get(), backward_algorithm_,
                                                          &bytes);
  if (status == CUDNN_STATUS_SUCCESS && bytes <= workspace_.bytes()) {
    shapes.backward_algorithm = backward_algorithm_;
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int returned = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_, shapes.input.get(), shapes.output.get(),
                                                              backward_conv_.get(), filter_.get(),
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                              results));
    const std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
    const int chosen = choose_algorithm(candidates, needs);
    if (chosen < 0) throw Error("convolution backward-filter, batch " + std::to_string(count) + ": " +
                                describe_no_algorithm("backward-filter", candidates, needs));
    shapes.backward_algorithm = results[chosen].algo;
  }
  return shapes;
}

ConvolutionLayer::BatchShapes& ConvolutionLayer::shapes_for(int count) {
  if (count <= 0 || count > options_.max_batch) {
    throw Error("convolution: batch of " + std::to_string(count) + " images, but the layer was built for 1.." +
                std::to_string(options_.max_batch));
  }
  auto found = shapes_.find(count);
  if (found == shapes_.end()) found = shapes_.emplace(count, make_shapes(count)).first;
  return found->second;
}

void ConvolutionLayer::forward(const float* images, const float* weight, int count, float* output) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnConvolutionForward(cudnn_, &kOne, shapes.input.get(), images, filter_.get(), weight,
                                      forward_conv_.get(), shapes.forward_algorithm, workspace_.data(),
                                      workspace_.bytes(), &kZero, shapes.output.get(), output));
}

void ConvolutionLayer::backward_weight(const float* images, const float* doutput, int count, float* weight_grad) {
  BatchShapes& shapes = shapes_for(count);
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_, &kOne, shapes.input.get(), images, shapes.output.get(), doutput,
                                             backward_conv_.get(), shapes.backward_algorithm, workspace_.data(),
                                             workspace_.bytes(), &kZero, filter_.get(), weight_grad));
}

std::string ConvolutionLayer::describe() const {
  std::ostringstream out;
  out << "forward algo " << static_cast<int>(forward_algorithm_) << ", backward-filter algo "
      << static_cast<int>(backward_algorithm_) << ", workspace " << mebibytes(workspace_.bytes());
  return out.str();
}

bool ConvolutionLayer::forward_may_use_tensor_cores() const {
  cudnnMathType_t math{};
  CUDNN_CHECK(cudnnGetConvolutionMathType(forward_conv_.get(), &math));
  return math != CUDNN_FMA_MATH;
}

bool ConvolutionLayer::backward_may_use_tensor_cores() const {
  cudnnMathType_t math{};
  CUDNN_CHECK(cudnnGetConvolutionMathType(backward_conv_.get(), &math));
  return math != CUDNN_FMA_MATH;
}

}  // namespace train_gpu::cuda
