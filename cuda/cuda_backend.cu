// The CUDA backend: the tutorial's CNN trained on one GPU, everything on the device.
//
// One training step, all enqueued on one stream with no host synchronization:
//   loader:   gather + scale the batch by the epoch's order            (gather_scale.cu)
//   forward:  conv (cuDNN) -> + bias, ReLU -> maxpool 2x2 (+ argmax)  (conv.cu, bias_activation.cu, pool.cu)
//             -> fc1 (cuBLAS) + bias, ReLU -> fc2 + bias               (dense.cu)
//   loss:     fused softmax-CE: dlogits = (p - onehot)/N, loss sums, correct, confusion into
//             the pass totals ON THE DEVICE                            (softmax_xent.cu)
//   backward: fc2: dW2 = dZ^T·H, db2, dH -> ReLU mask -> fc1: dW1 = dH^T·P, db1, dP
//             -> pool backward fused with the conv ReLU mask -> conv backward-filter, conv bias grad
//   check:    any non-finite gradient flags the batch in the totals    (nonfinite.cu)
//   update:   Adam over all 693,962 parameters in one launch           (adam.cu)
// Every gradient is OVERWRITTEN by its producer (beta = 0, bias sums written not added), so no
// memset of the gradient arena is needed. The step count t lives on the host, which computes
// Adam's bias-corrected step size per step without reading anything back.
//
// Memory: parameters, gradients and Adam's m and v are one allocation of four equal arenas in
// model_spec.h's layout (each padded to 256 bytes so every arena starts aligned); layers get
// views by offset. Activations are allocated once for options.max_batch.
#include "cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/cudnn_api.h"
#include "cuda/handles.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/device_totals.h"
#include "cuda/kernels/nonfinite.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/layers/conv.h"
#include "cuda/layers/dense.h"
#include "cuda/layers/pool.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/loader_choice.h"
#include "cuda/math_mode.h"
#include "cuda/math/adam_math.h"
#include "cuda/memory.h"
#include "cuda/nvtx.h"
#include "host/common/error.h"
#include "host/model/image_set_check.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda {
namespace {

using namespace train_gpu::model;

// cuBLAS's recommended workspace for Hopper; set explicitly so cuBLAS never allocates lazily
// inside a step.
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

// Each arena is padded to a multiple of 64 floats (256 bytes): cuBLAS and vectorized kernels
// prefer aligned starts, and 693,962 floats is not a multiple of 4.
constexpr std::size_t kArenaStride = (kParameterCount + 63) / 64 * 64;

std::string describe_device(int device) {
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  std::ostringstream out;
  out << "cuda:" << device << " " << properties.name << ", compute capability " << properties.major << "."
      << properties.minor << ", " << properties.multiProcessorCount << " SMs, " << std::fixed << std::setprecision(1)
      << double(properties.totalGlobalMem) / double(1ULL << 30) << " GiB";
  return out.str();
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const BackendOptions& options) : device_(device), options_(options) {
    if (options.max_batch <= 0) {
      throw Error("--batch-size " + std::to_string(options.max_batch) + ": must be positive");
    }
    CUDA_CHECK(cudaSetDevice(device));
    description_ = describe_device(device);
    stream_ = make_stream();
    cudnn_ = make_cudnn_handle(stream_.get());
    cublas_ = make_cublas_handle(stream_.get());
    cublas_workspace_ = DeviceBuffer<unsigned char>(kCublasWorkspaceBytes, "the cuBLAS workspace");
    CUBLAS_CHECK(cublasSetWorkspace(cublas_.get(), cublas_workspace_.data(), cublas_workspace_.bytes()));
    // FP32 by default, for parity with the CPU backend; TF32 tensor cores only when asked.
    CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), options.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    CUBLAS_CHECK(cublasSetPointerMode(cublas_.get(), CUBLAS_POINTER_MODE_HOST));
    CUBLAS_CHECK(cublasSetAtomicsMode(cublas_.get(), CUBLAS_ATOMICS_NOT_ALLOWED));

    ConvolutionOptions conv_options;
    conv_options.max_batch = options.max_batch;
    conv_options.deterministic = options.deterministic;
    conv_options.tf32 = options.tf32;
    conv_options.requested = options.conv_algorithms;
    conv_ = std::make_unique<ConvolutionLayer>(cudnn_.get(), conv_options);
    description_ += ", " + describe_math(math_modes());

    const std::size_t b = static_cast<std::size_t>(options.max_batch);
    arenas_ = DeviceBuffer<float>(4 * kArenaStride, "the parameter, gradient and Adam arenas");
    CUDA_CHECK(cudaMemsetAsync(arenas_.data(), 0, arenas_.bytes(), stream_.get()));
    images_ = DeviceBuffer<float>(b * kImagePixels, "the input batch");
    labels_ = DeviceBuffer<uint8_t>(b, "the batch labels");
    conv_out_ = DeviceBuffer<float>(b * kConvOutputs, "convolution activations");
    pooled_ = DeviceBuffer<float>(b * kFlatFeatures, "pooled activations");
    pool_argmax_ = DeviceBuffer<uint8_t>(b * kFlatFeatures, "pooling argmax");
    hidden_ = DeviceBuffer<float>(b * kHidden, "hidden activations");
    logits_ = DeviceBuffer<float>(b * kClasses, "logits");
    dlogits_ = DeviceBuffer<float>(b * kClasses, "logit gradients");
    probabilities_ = DeviceBuffer<float>(b * kClasses, "probabilities");
    dhidden_ = DeviceBuffer<float>(b * kHidden, "hidden gradients");
    dpooled_ = DeviceBuffer<float>(b * kFlatFeatures, "pooled gradients");
    dconv_ = DeviceBuffer<float>(b * kConvOutputs, "convolution gradients");
    totals_ = DeviceBuffer<DeviceTotals>(2, "pass totals");
    for (DeviceTotals* totals : {training_totals(), evaluation_totals()}) launch_reset_totals(totals, stream_.get());
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // construction done: report errors here, not later
  }

  ~CudaBackend() override {
    // Let queued work finish before the buffers it uses are freed (cudaFree would wait anyway,
    // but an explicit drain makes a late kernel error visible here). Drained BEFORE the loader
    // goes: queued gather kernels and copies still read the loader's device and pinned buffers.
    const cudaError_t status = cudaStreamSynchronize(stream_.get());
    if (status != cudaSuccess) {
      std::fprintf(stderr, "train_gpu: warning: the CUDA stream ended with an error: %s\n", cudaGetErrorString(status));
    }
    loader_.reset();  // joins the pinned loader's producer thread
  }

  std::string description() const override { return description_; }

  // What the libraries say they will run, read back after everything was configured.
  MathModes math_modes() const {
    cublasMath_t mode{};
    CUBLAS_CHECK(cublasGetMathMode(cublas_.get(), &mode));
    MathModes modes;
    // The "disallow reduced-precision reduction" bit is a flag on top of the mode proper.
    modes.cublas_tf32 = (static_cast<unsigned>(mode) & ~static_cast<unsigned>(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)) ==
                        static_cast<unsigned>(CUBLAS_TF32_TENSOR_OP_MATH);
    modes.conv_forward_tensor = conv_->forward_may_use_tensor_cores();
    modes.conv_backward_tensor = conv_->backward_may_use_tensor_cores();
    return modes;
  }

  ConvolutionAlgorithms conv_algorithms() const override { return conv_->algorithms(); }

  void attach_data(const ImageSet& train, const ImageSet& test) override {
    // The CPU backend's checks, message for message: a label >= 10 would make softmax_xent read
    // past a row's logits and atomicAdd outside the 10x10 confusion counts.
    check_image_set(train, "train");
    check_image_set(test, "test");
    CUDA_CHECK(cudaSetDevice(device_));
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const std::size_t dataset_bytes =
        train.pixels.size() + train.labels.size() + test.pixels.size() + test.labels.size() +
        (static_cast<std::size_t>(train.count) + static_cast<std::size_t>(test.count)) * sizeof(int32_t);
    const LoaderKind kind = choose_loader(options_.loader, dataset_bytes, free_bytes);
    // Queued steps may still read the old loader's buffers: drain before freeing them.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    loader_.reset();
    loader_ = kind == LoaderKind::kDevice ? make_device_loader(train, test)
                                          : make_pinned_loader(train, test, options_.max_batch, device_);
  }

  void set_state(const ModelState& state) override {
    CUDA_CHECK(cudaSetDevice(device_));
    const std::vector<float>* parts[3] = {&state.parameters, &state.adam_m, &state.adam_v};
    const char* names[3] = {"parameters", "adam_m", "adam_v"};
    for (int i = 0; i < 3; ++i) {
      if (parts[i]->size() != kParameterCount) {
        throw Error(std::string("set_state: ") + names[i] + " has " + std::to_string(parts[i]->size()) +
                    " values, expected " + std::to_string(kParameterCount));
      }
    }
    if (state.step < 0) throw Error("set_state: negative Adam step " + std::to_string(state.step));
    CUDA_CHECK(cudaMemcpyAsync(parameters(), state.parameters.data(), kParameterCount * sizeof(float),
                               cudaMemcpyHostToDevice, stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(adam_m(), state.adam_m.data(), kParameterCount * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(adam_v(), state.adam_v.data(), kParameterCount * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    // Synchronizes: the copies read the caller's vectors, which may be gone when this returns.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    step_ = state.step;
  }

  ModelState state() override {
    CUDA_CHECK(cudaSetDevice(device_));
    ModelState state;
    state.parameters.resize(kParameterCount);
    state.adam_m.resize(kParameterCount);
    state.adam_v.resize(kParameterCount);
    CUDA_CHECK(cudaMemcpyAsync(state.parameters.data(), parameters(), kParameterCount * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(state.adam_m.data(), adam_m(), kParameterCount * sizeof(float), cudaMemcpyDeviceToHost,
                               stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(state.adam_v.data(), adam_v(), kParameterCount * sizeof(float), cudaMemcpyDeviceToHost,
                               stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // documented: state() synchronizes
    state.step = step_;
    return state;
  }

  void set_order(Split split, const std::vector<int32_t>& order) override {
    CUDA_CHECK(cudaSetDevice(device_));
    require_data().set_order(split, order, stream_.get());
  }

  void train_step(int64_t first, int count) override {
    ScopedRange range("train_step");
    CUDA_CHECK(cudaSetDevice(device_));  // cheap when already current; the caller's thread may differ
    check_count(count);
    cudaStream_t stream = stream_.get();
    {
      ScopedRange load("load_batch");
      require_data().load_batch(Split::kTrain, first, count, images_.data(), labels_.data(), stream);
    }
    {
      ScopedRange pass("forward");
      forward(count);
      launch_softmax_xent(logits_.data(), labels_.data(), count, kClasses, dlogits_.data(), nullptr, training_totals(),
                          stream);
    }
    {
      ScopedRange pass("backward");
      backward(count);
      launch_flag_nonfinite(gradients(), kParameterCount, training_totals(), stream);
    }
    ScopedRange update("optimizer");
    ++step_;
    const float step_size = math::adam_step_size(options_.adam.learning_rate, options_.adam.beta1,
                                                 options_.adam.beta2, step_);
    launch_adam(parameters(), gradients(), adam_m(), adam_v(), kParameterCount, options_.adam.beta1,
                options_.adam.beta2, step_size, options_.adam.epsilon, stream);
  }

  void evaluate_batch(Split split, int64_t first, int count, float* probabilities_out) override {
    ScopedRange range("evaluate_batch");
    CUDA_CHECK(cudaSetDevice(device_));
    check_count(count);
    cudaStream_t stream = stream_.get();
    require_data().load_batch(split, first, count, images_.data(), labels_.data(), stream);
    forward(count);
    launch_softmax_xent(logits_.data(), labels_.data(), count, kClasses, nullptr,
                        probabilities_out != nullptr ? probabilities_.data() : nullptr, evaluation_totals(), stream);
    if (probabilities_out != nullptr) {
      CUDA_CHECK(cudaMemcpyAsync(probabilities_out, probabilities_.data(),
                                 static_cast<std::size_t>(count) * kClasses * sizeof(float), cudaMemcpyDeviceToHost,
                                 stream));
      // Documented: asking for probabilities synchronizes; the caller reads them on return.
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }

  PassTotals take_totals(PassKind kind) override {
    const PassTotals totals = peek_totals(kind);
    launch_reset_totals(totals_for(kind), stream_.get());
    return totals;
  }

  PassTotals peek_totals(PassKind kind) override {
    CUDA_CHECK(cudaSetDevice(device_));
    DeviceTotals host{};
    CUDA_CHECK(cudaMemcpyAsync(&host, totals_for(kind), sizeof(DeviceTotals), cudaMemcpyDeviceToHost, stream_.get()));
    // Documented: reading the totals synchronizes; they are final only after the queued steps.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    return to_pass_totals(host);
  }

  ImageActivations activations(Split split, int64_t index) override {
    CUDA_CHECK(cudaSetDevice(device_));
    cudaStream_t stream = stream_.get();
    require_data().load_image(split, index, images_.data(), labels_.data(), stream);
    forward(1);
    launch_softmax_xent(logits_.data(), labels_.data(), 1, kClasses, nullptr, probabilities_.data(), nullptr, stream);
    ImageActivations result;
    result.conv_relu.resize(kConvOutputs);
    result.probabilities.resize(kClasses);
    CUDA_CHECK(cudaMemcpyAsync(result.conv_relu.data(), conv_out_.data(), kConvOutputs * sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaMemcpyAsync(result.probabilities.data(), probabilities_.data(), kClasses * sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // documented: activations() synchronizes
    return result;
  }

 private:
  // Forward pass of images_ (count, 1, 28, 28) into conv_out_, pooled_, hidden_ and logits_.
  void forward(int count) {
    cudaStream_t stream = stream_.get();
    conv_->forward(images_.data(), parameters() + kConvWeightOffset, count, conv_out_.data());
    launch_bias_activation(conv_out_.data(), parameters() + kConvBiasOffset, count, kConvFilters,
                           kConvSide * kConvSide, true, stream);
    launch_maxpool2x2_forward(conv_out_.data(), count, kConvFilters, kConvSide, pooled_.data(), pool_argmax_.data(),
                              stream);
    // H = relu(P · W1^T + b1): pooled (count, 5408) -> hidden (count, 128)
    dense_forward(cublas_.get(), pooled_.data(), parameters() + kFc1WeightOffset, count, kFlatFeatures, kHidden,
                  hidden_.data());
    launch_bias_activation(hidden_.data(), parameters() + kFc1BiasOffset, count, kHidden, 1, true, stream);
    // Z = H · W2^T + b2: hidden (count, 128) -> logits (count, 10)
    dense_forward(cublas_.get(), hidden_.data(), parameters() + kFc2WeightOffset, count, kHidden, kClasses,
                  logits_.data());
    launch_bias_activation(logits_.data(), parameters() + kFc2BiasOffset, count, kClasses, 1, false, stream);
  }

  // Backward pass from dlogits_ into the gradient arena (every tensor overwritten).
  void backward(int count) {
    cudaStream_t stream = stream_.get();
    float* grads = gradients();
    // fc2: dW2 = dZ^T · H, db2 = column sums of dZ, dH = dZ · W2
    dense_backward_weight(cublas_.get(), hidden_.data(), dlogits_.data(), count, kHidden, kClasses,
                          grads + kFc2WeightOffset);
    launch_channel_sum(dlogits_.data(), count, kClasses, 1, grads + kFc2BiasOffset, stream);
    dense_backward_input(cublas_.get(), dlogits_.data(), parameters() + kFc2WeightOffset, count, kHidden, kClasses,
                         dhidden_.data());
    launch_relu_backward(hidden_.data(), dhidden_.data(), static_cast<std::size_t>(count) * kHidden, stream);
    // fc1: dW1 = dH^T · P, db1 = column sums of dH, dP = dH · W1
    dense_backward_weight(cublas_.get(), pooled_.data(), dhidden_.data(), count, kFlatFeatures, kHidden,
                          grads + kFc1WeightOffset);
    launch_channel_sum(dhidden_.data(), count, kHidden, 1, grads + kFc1BiasOffset, stream);
    dense_backward_input(cublas_.get(), dhidden_.data(), parameters() + kFc1WeightOffset, count, kFlatFeatures,
                         kHidden, dpooled_.data());
    // pool backward, fused with the conv ReLU mask: dconv = route(dP) where conv_out > 0
    launch_maxpool2x2_relu_backward(dpooled_.data(), pool_argmax_.data(), conv_out_.data(), count, kConvFilters,
                                    kConvSide, dconv_.data(), stream);
    // conv: dWc = dconv ⋆ X (cuDNN backward-filter), dbc = per-channel sums of dconv
    conv_->backward_weight(images_.data(), dconv_.data(), count, grads + kConvWeightOffset);
    launch_channel_sum(dconv_.data(), count, kConvFilters, kConvSide * kConvSide, grads + kConvBiasOffset, stream);
  }

  void check_count(int count) const {
    if (count <= 0 || count > options_.max_batch) {
      throw Error("batch of " + std::to_string(count) + " samples: the CUDA backend was built for 1.." +
                  std::to_string(options_.max_batch) + " (BackendOptions::max_batch)");
    }
  }

  BatchLoader& require_data() {
    if (!loader_) throw Error("the CUDA backend has no data: call attach_data first");
    return *loader_;
  }

  float* parameters() { return arenas_.data(); }
  float* gradients() { return arenas_.data() + kArenaStride; }
  float* adam_m() { return arenas_.data() + 2 * kArenaStride; }
  float* adam_v() { return arenas_.data() + 3 * kArenaStride; }
  DeviceTotals* training_totals() { return totals_.data(); }
  DeviceTotals* evaluation_totals() { return totals_.data() + 1; }
  DeviceTotals* totals_for(PassKind kind) {
    return kind == PassKind::kTraining ? training_totals() : evaluation_totals();
  }

  int device_;
  BackendOptions options_;
  std::string description_;
  int64_t step_ = 0;  // Adam's t, on the host so the step size needs no read-back

  // Declared in dependency order: destroyed in reverse, handles after everything using them.
  Stream stream_;
  CudnnHandle cudnn_;
  DeviceBuffer<unsigned char> cublas_workspace_;  // outlives the handle that points at it
  CublasHandle cublas_;
  std::unique_ptr<ConvolutionLayer> conv_;
  DeviceBuffer<float> arenas_;  // parameters | gradients | m | v, each kArenaStride floats
  DeviceBuffer<float> images_;        // (B, 1, 28, 28)
  DeviceBuffer<uint8_t> labels_;      // (B)
  DeviceBuffer<float> conv_out_;      // (B, 32, 26, 26), after bias and ReLU
  DeviceBuffer<float> pooled_;        // (B, 32, 13, 13) = (B, 5408)
  DeviceBuffer<uint8_t> pool_argmax_; // (B, 32, 13, 13)
  DeviceBuffer<float> hidden_;        // (B, 128), after bias and ReLU
  DeviceBuffer<float> logits_;        // (B, 10)
  DeviceBuffer<float> dlogits_;       // (B, 10)
  DeviceBuffer<float> probabilities_; // (B, 10), only when asked for
  DeviceBuffer<float> dhidden_;       // (B, 128)
  DeviceBuffer<float> dpooled_;       // (B, 5408)
  DeviceBuffer<float> dconv_;         // (B, 32, 26, 26)
  DeviceBuffer<DeviceTotals> totals_; // [training, evaluation]
  std::unique_ptr<BatchLoader> loader_;
};

}  // namespace

DeviceProbe probe_devices() noexcept {
  DeviceProbe probe;
  const cudaError_t status = cudaGetDeviceCount(&probe.device_count);
  if (status != cudaSuccess) {
    probe.device_count = 0;
    probe.error = cudaGetErrorString(status);
    (void)cudaGetLastError();  // clear the error so later probes start clean
  } else if (probe.device_count == 0) {
    probe.error = "no CUDA device found";
  }
  return probe;
}

std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options) {
  const DeviceProbe probe = probe_devices();
  if (device < 0 || device >= probe.device_count) {
    throw Error("--device " + std::to_string(device) + ": no such GPU (" +
                (probe.device_count == 0 ? probe.error : std::to_string(probe.device_count) + " found") +
                "). Use --device cpu to train on the CPU");
  }
  return std::make_unique<CudaBackend>(device, options);
}

std::string built_library_versions() {
  std::ostringstream out;
  out << "CUDA " << CUDART_VERSION / 1000 << "." << (CUDART_VERSION % 1000) / 10 << ", cuDNN " << CUDNN_MAJOR << "."
      << CUDNN_MINOR << "." << CUDNN_PATCHLEVEL << ", cuBLAS " << CUBLAS_VER_MAJOR << "." << CUBLAS_VER_MINOR << "."
      << CUBLAS_VER_PATCH;
  return out.str();
}

std::string loaded_library_versions() noexcept {
  try {
    std::ostringstream out;
    int runtime = 0;
    if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) {
      out << "CUDA runtime " << runtime / 1000 << "." << (runtime % 1000) / 10;
    }
    // cuDNN 9 encodes major * 10000 + minor * 100 + patch.
    const std::size_t cudnn = cudnnGetVersion();
    out << ", cuDNN " << cudnn / 10000 << "." << (cudnn % 10000) / 100 << "." << cudnn % 100;
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS) {
      out << ", cuBLAS " << major << "." << minor << "." << patch;
    }
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) {
      out << ", driver supports CUDA " << driver / 1000 << "." << (driver % 1000) / 10;
    } else {
      out << ", no NVIDIA driver";
    }
    (void)cudaGetLastError();
    return out.str();
  } catch (...) {
    return "unknown (could not query the loaded libraries)";
  }
}

}  // namespace train_gpu::cuda
