// The convolution on cuDNN's classic API (cudnnConvolutionForward / cudnnConvolutionBackwardFilter).
//
// Classic API, not the graph (backend) API, because:
// - cuDNN 9 deprecates the classic API but still ships and supports it throughout 9.x, and
//   cuDNN only warns when asked (CUDNN_WARN_DEPRECATED, handled once in cuda/cudnn_api.h);
// - the graph API's pooling backward is not a graph node, so the network would need the classic
//   API (or a kernel) anyway; we use kernels for pooling (pool.cu) and keep cuDNN to this file;
// - a 1-channel 3x3 convolution needs two operations whose classic form is ~30 calls, against
//   several hundred lines of descriptor building (or the C++ frontend as a new dependency);
// - cudnnFind* (timed) and cudnnGet*_v7 (heuristic) give ordered candidates with a determinism
//   field, which is what --deterministic needs.
// When a future cuDNN major release drops the classic API, this file is the one to port.
//
// Set up once: descriptors, algorithm choice (at max_batch) and the workspace are decided in the
// constructor; forward/backward never allocate. The choice is benchmarked (cudnnFind*) by default;
// under --deterministic, or when algorithms are requested (a resume's recorded pair, a test's
// pin), it comes from cuDNN's untimed heuristics so it repeats across processes
// (algorithm_choice.h says why). Smaller batches (an epoch's last,
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
#include "cuda/layers/cudnn_candidates.h"
#include "host/common/error.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda {
namespace {

// The largest workspace an algorithm may ask for. The winners for this tiny filter need far
// less; the cap only keeps a pathological FFT candidate from taking gigabytes.
constexpr std::size_t kMaxWorkspaceBytes = std::size_t{256} << 20;

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

// host/model/convolution_algorithms.h names the algorithms by these values.
static_assert(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM == 0 && CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM == 1 &&
                  CUDNN_CONVOLUTION_FWD_ALGO_GEMM == 2 && CUDNN_CONVOLUTION_FWD_ALGO_DIRECT == 3 &&
                  CUDNN_CONVOLUTION_FWD_ALGO_FFT == 4 && CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING == 5 &&
                  CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD == 6 && CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED == 7 &&
                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT == 8,
              "cuDNN's forward algorithm values changed: update forward_algorithm_name");
static_assert(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 == 0 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 == 1 &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT == 2 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 == 3 &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD == 4 &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED == 5 &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING == 6 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT == 7,
              "cuDNN's backward-filter algorithm values changed: update backward_filter_algorithm_name");

// A candidate for one algorithm cuDNN was asked about directly (it was missing from the list):
// supported when its workspace query succeeds, determinism as documented, run with the
// descriptor's math type.
AlgorithmCandidate asked_candidate(int algorithm, cudnnStatus_t workspace_status, std::size_t workspace_bytes,
                                   bool deterministic, cudnnMathType_t math) {
  AlgorithmCandidate c;
  c.algorithm = algorithm;
  c.succeeded = workspace_status == CUDNN_STATUS_SUCCESS;
  c.deterministic = deterministic;
  c.tensor_core_math = is_tensor_op(math);
  c.math_type = static_cast<int>(math);
  c.workspace_bytes = workspace_bytes;
  return c;
}

std::vector<AlgorithmCandidate> forward_candidates(cudnnHandle_t cudnn, AlgorithmSearch search,
                                                   cudnnTensorDescriptor_t input, cudnnFilterDescriptor_t filter,
                                                   cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t output,
                                                   int requested, cudnnMathType_t math) {
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  if (search == AlgorithmSearch::kBenchmark) {
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(cudnn, input, filter, conv, output,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, results));
  } else {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn, input, filter, conv, output,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, results));
  }
  std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
  if (requested >= 0 && requested < CUDNN_CONVOLUTION_FWD_ALGO_COUNT && !offers(candidates, requested)) {
    std::size_t bytes = 0;
    const cudnnStatus_t status = cudnnGetConvolutionForwardWorkspaceSize(
        cudnn, input, filter, conv, output, static_cast<cudnnConvolutionFwdAlgo_t>(requested), &bytes);
    candidates.push_back(asked_candidate(requested, status, bytes, true, math));
  }
  return candidates;
}

std::vector<AlgorithmCandidate> backward_filter_candidates(cudnnHandle_t cudnn, AlgorithmSearch search,
                                                           cudnnTensorDescriptor_t input,
                                                           cudnnTensorDescriptor_t doutput,
                                                           cudnnConvolutionDescriptor_t conv,
                                                           cudnnFilterDescriptor_t filter, int requested,
                                                           cudnnMathType_t math) {
  cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int returned = 0;
  if (search == AlgorithmSearch::kBenchmark) {
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(cudnn, input, doutput, conv, filter,
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                            results));
  } else {
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn, input, doutput, conv, filter,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                              results));
  }
  std::vector<AlgorithmCandidate> candidates = to_candidates(results, returned);
  if (requested >= 0 && requested < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT && !offers(candidates, requested)) {
    std::size_t bytes = 0;
    const cudnnStatus_t status = cudnnGetConvolutionBackwardFilterWorkspaceSize(
        cudnn, input, doutput, conv, filter, static_cast<cudnnConvolutionBwdFilterAlgo_t>(requested), &bytes);
    candidates.push_back(
        asked_candidate(requested, status, bytes, documented_deterministic_backward_filter(requested), math));
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
  const AlgorithmSearch search = algorithm_search(options.deterministic, options.requested.chosen());
  {
    const std::vector<AlgorithmCandidate> candidates =
        forward_candidates(cudnn_, search, input.get(), filter_.get(), forward_conv_.get(), output.get(),
                           options.requested.forward, requested_math);
    const int chosen = choose_algorithm(candidates, needs, options.requested.forward);
    if (chosen < 0) throw Error("convolution forward: " + describe_no_algorithm("forward", candidates, needs));
    forward_algorithm_ = static_cast<cudnnConvolutionFwdAlgo_t>(candidates[chosen].algorithm);
    // cuDNN's documented rule: run an algorithm with the math type it was measured with. In FP32
    // mode the descriptor keeps CUDNN_FMA_MATH, so nothing can switch TF32 on behind our back.
    if (options.tf32) {
      CUDNN_CHECK(cudnnSetConvolutionMathType(forward_conv_.get(),
                                              static_cast<cudnnMathType_t>(candidates[chosen].math_type)));
    }
  }
  {
    const std::vector<AlgorithmCandidate> candidates =
        backward_filter_candidates(cudnn_, search, input.get(), output.get(), backward_conv_.get(), filter_.get(),
                                   options.requested.backward_filter, requested_math);
    const int chosen = choose_algorithm(candidates, needs, options.requested.backward_filter);
    if (chosen < 0) {
      throw Error("convolution backward-filter: " + describe_no_algorithm("backward-filter", candidates, needs));
    }
    backward_algorithm_ = static_cast<cudnnConvolutionBwdFilterAlgo_t>(candidates[chosen].algorithm);
    if (options.tf32) {
      CUDNN_CHECK(cudnnSetConvolutionMathType(backward_conv_.get(),
                                              static_cast<cudnnMathType_t>(candidates[chosen].math_type)));
    }
  }
  algorithms_.forward = static_cast<int>(forward_algorithm_);
  algorithms_.backward_filter = static_cast<int>(backward_algorithm_);
  algorithms_.how = how_chosen(search, options.requested, algorithms_);

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
  // The max_batch algorithms when cuDNN supports them at this size within the workspace, else the
  // heuristics' best that does: untimed either way, so deterministic runs repeat.
  cudnnMathType_t math{};
  CUDNN_CHECK(cudnnGetConvolutionMathType(forward_conv_.get(), &math));
  std::vector<AlgorithmCandidate> candidates =
      forward_candidates(cudnn_, AlgorithmSearch::kHeuristic, shapes.input.get(), filter_.get(), forward_conv_.get(),
                         shapes.output.get(), static_cast<int>(forward_algorithm_), math);
  int chosen = choose_algorithm(candidates, needs, static_cast<int>(forward_algorithm_));
  if (chosen < 0) {
    throw Error("convolution forward, batch " + std::to_string(count) + ": " +
                describe_no_algorithm("forward", candidates, needs));
  }
  shapes.forward_algorithm = static_cast<cudnnConvolutionFwdAlgo_t>(candidates[chosen].algorithm);

  CUDNN_CHECK(cudnnGetConvolutionMathType(backward_conv_.get(), &math));
  candidates = backward_filter_candidates(cudnn_, AlgorithmSearch::kHeuristic, shapes.input.get(), shapes.output.get(),
                                          backward_conv_.get(), filter_.get(), static_cast<int>(backward_algorithm_),
                                          math);
  chosen = choose_algorithm(candidates, needs, static_cast<int>(backward_algorithm_));
  if (chosen < 0) {
    throw Error("convolution backward-filter, batch " + std::to_string(count) + ": " +
                describe_no_algorithm("backward-filter", candidates, needs));
  }
  shapes.backward_algorithm = static_cast<cudnnConvolutionBwdFilterAlgo_t>(candidates[chosen].algorithm);
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
