// The CUDA backend: the tutorial's CNN trained on one GPU, everything on the device, through
// kernels fused for its shapes. Every other spec runs through cuda/network/ (network_backend.cu).
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
//             (--clip-norm: one reduction launch before it leaves the factor on the device for
//             it to apply, gradient_clip.cu; --label-smoothing: in the softmax-CE kernel)
// Every gradient is OVERWRITTEN by its producer (beta = 0, bias sums written not added), so no
// memset of the gradient arena is needed. The step count t lives on the host, which computes
// Adam's bias-corrected step size per step without reading anything back.
//
// Variants (BackendOptions, all off by default until a device run has proven them):
//   --kernels fused  folds bias + ReLU and their gradients into cuBLASLt epilogues and the
//                    pooling kernels (cuda/kernel_choice.h); --pooling cudnn uses cuDNN pooling.
//   --graph          captures each step shape once as a CUDA graph and replays it (cuda/graph/):
//                    the step then reads its batch position and Adam's step size from device
//                    counters that it advances itself (cuda/math/step_counters.h), and the
//                    host's t mirrors the device's. Same kernels, same arguments, so the same
//                    bits as eager launches (with --kernels fused, if cuBLASLt's bias-reduction
//                    epilogues are deterministic run to run: GraphBackendTest is to show it); a
//                    failed capture falls back to eager with one notice.
//
// Several ranks (BackendOptions::collectives, launched by mpirun/srun, one GPU each): each trains
// on its slice of every global batch (host/distributed/batch_slice.h) with the loss's mean taken
// over the global batch, and the whole gradient arena is summed over the ranks by one in-place
// ncclAllReduce (cuda/distributed/rank_gradient_sum.h, shared with the spec network's backend)
// between backward and the non-finite check.
// Steps run eagerly (no graphs), and the host waits for each step's sum, bounded by
// --dist-timeout, so a dead peer ends the job instead of hanging it.
//
// Memory: parameters, gradients and Adam's m and v are one allocation of four equal arenas in
// model_spec.h's layout (each padded to 256 bytes so every arena starts aligned); layers get
// views by offset. Activations are allocated once for options.max_batch.
#include "cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/cudnn_api.h"
#include "cuda/device_description.h"
#include "cuda/distributed/rank_gradient_sum.h"
#include "cuda/graph/graph_launches.h"
#include "cuda/graph/launch_plan.h"
#include "cuda/graph/step_graphs.h"
#include "cuda/handles.h"
#include "cuda/kernel_choice.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/optimizers.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/device_totals.h"
#include "cuda/kernels/gradient_clip.h"
#include "cuda/kernels/nonfinite.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/kernels/step_counters.h"
#include "cuda/layers/conv.h"
#include "host/distributed/batch_slice.h"
#include "host/distributed/collectives.h"
#include "cuda/layers/cudnn_pool.h"
#include "cuda/layers/dense.h"
#include "cuda/layers/dense_epilogue.h"
#include "cuda/layers/pool.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/loader_choice.h"
#include "cuda/math_mode.h"
#include "cuda/math/adam_math.h"
#include "cuda/math/step_counters.h"
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

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const BackendOptions& options) : device_(device), options_(options) {
    if (options.max_batch <= 0) {
      throw Error("--batch-size " + std::to_string(options.max_batch) + ": must be positive");
    }
    if (options.graph_steps < 1) throw Error("--graph-steps " + std::to_string(options.graph_steps) + ": must be >= 1");
    if (options.profile_first_step < 0 || options.profile_last_step < options.profile_first_step) {
      throw Error("--profile-steps: the range " + std::to_string(options.profile_first_step) + ":" +
                  std::to_string(options.profile_last_step) + " is empty or negative");
    }
    kernels_ = parse_kernel_set(options.kernels);
    pooling_ = parse_pooling(options.pooling);
    CUDA_CHECK(cudaSetDevice(device));
    description_ = describe_device(device);
    stream_ = make_stream();
    cudnn_ = make_cudnn_handle(stream_.get());
    cublas_ = make_cublas_handle(stream_.get());
    cublas_workspace_ = DeviceBuffer<unsigned char>(kCublasWorkspaceBytes, "the cuBLAS workspace");
    configure_training_cublas(cublas_.get(), cublas_workspace_.data(), cublas_workspace_.bytes(), options.tf32);

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
    if (pooling_ == PoolingKind::kCudnn) {
      cudnn_pool_ = std::make_unique<CudnnPool>(cudnn_.get(), CudnnPoolMode::kMax, kConvFilters,
                                                maxpool2x2_geometry(kConvSide));
    }
    if (kernels_ == KernelSet::kFused) allocate_fused_buffers();
    counters_ = DeviceBuffer<math::StepCounters>(1, "the step counters");
    CUDA_CHECK(cudaMemsetAsync(counters_.data(), 0, counters_.bytes(), stream_.get()));
    launch_set_scale(&counters_.data()->lr_scale, 1.0f, stream_.get());
    if (options.clip_norm > 0.0f) clip_ = std::make_unique<GradientClip>(options.clip_norm, stream_.get());
    if (options.collectives != nullptr) join_gradient_sum(*options.collectives);
    if (options.graph && options.collectives == nullptr) {
      graphs_ = std::make_unique<GraphLauncher>(
          stream_.get(), options.graph_steps, counters_.data(),
          [this](int count) { enqueue_train_step(count, device_counter_source()); },
          [this](Split split, int count) { enqueue_evaluation_at_cursor(split, count); });
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // construction done: report errors here, not later
  }

  ~CudaBackend() override {
    // Steps held back for a graph group were accepted by train_step: they run, as they would
    // have at the next read, rather than vanish with the backend.
    try {
      flush_held_steps();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "train_gpu: warning: %d held training step(s) could not run: %s\n",
                   graphs_ ? graphs_->held_steps() : 0, error.what());
    }
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
  bool on_gpu() const override { return true; }

  std::string kernels() const override {
    return "cuDNN + cuBLAS, " + std::string(kernel_set_name(kernels_)) + " kernels, " + pooling_name(pooling_) +
           " pooling";
  }

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
    // The CPU backend's checks, message for message: data of another class count, or a label
    // >= 10, would make softmax_xent read past a row's logits and atomicAdd outside the device
    // totals' 10x10 confusion counts (device_totals.h).
    check_image_set(train, "train", tutorial_model_input());
    check_image_set(test, "test", tutorial_model_input());
    CUDA_CHECK(cudaSetDevice(device_));
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const LoaderKind kind = choose_loader(options_.loader, resident_dataset_bytes(train, test), free_bytes);
    flush_held_steps();
    // Queued steps may still read the old loader's buffers: drain before freeing them.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    loader_.reset();
    loader_ = kind == LoaderKind::kDevice ? make_device_loader(train, test)
                                          : make_pinned_loader(train, test, options_.max_batch, device_);
    if (graphs_) {
      graphs_->follow_loader(*loader_);
      // Steps taken through another loader counted t on the host only.
      launch_set_counter(&counters_.data()->adam_step, step_, stream_.get());
    }
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
    flush_held_steps();
    CUDA_CHECK(cudaMemcpyAsync(parameters(), state.parameters.data(), kParameterCount * sizeof(float),
                               cudaMemcpyHostToDevice, stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(adam_m(), state.adam_m.data(), kParameterCount * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(adam_v(), state.adam_v.data(), kParameterCount * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    launch_set_counter(&counters_.data()->adam_step, state.step, stream_.get());
    // Synchronizes: the copies read the caller's vectors, which may be gone when this returns.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    step_ = state.step;
  }

  ModelState state() override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
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
    math::StepCounters counters{};
    CUDA_CHECK(cudaMemcpyAsync(&counters, counters_.data(), sizeof counters, cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // documented: state() synchronizes
    // With graphs the device counts Adam's steps itself; it must have counted what the host did.
    if (uses_device_counters() && counters.adam_step != step_) {
      throw Error("internal error: the device counted " + std::to_string(counters.adam_step) +
                  " Adam steps, the host " + std::to_string(step_) + "; rerun with --no-graph and report this");
    }
    state.step = step_;
    return state;
  }

  void set_learning_rate_schedule(const LrSchedule& schedule, float scale) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();  // held steps run at the rate they were taken under
    const bool same = math::same_schedule(schedule, schedule_);
    schedule_ = schedule;
    lr_scale_ = scale;
    // The scale is device memory every step reads; the schedule is captured in a graph's launch
    // arguments, so a new one needs new graphs.
    launch_set_scale(&counters_.data()->lr_scale, scale, stream_.get());
    if (!same && graphs_) graphs_->forget();
  }

  void set_order(Split split, const std::vector<int32_t>& order) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();  // held steps must read the order they were planned on
    require_data().set_order(split, order, stream_.get());
  }

  void train_step(int64_t first, int count) override {
    ScopedRange range("train_step");
    CUDA_CHECK(cudaSetDevice(device_));  // cheap when already current; the caller's thread may differ
    check_count(count);
    ++process_steps_;
    if (process_steps_ == options_.profile_first_step) {
      flush_held_steps();
      CUDA_CHECK(cudaProfilerStart());
    }
    // Adam's t counts a step only once it is enqueued: a step that throws (no data, a bad batch,
    // a failed launch) must not leave t one ahead of the moments.
    if (uses_device_counters()) {
      require_data().check_batch(Split::kTrain, first, count);  // the device only sees a cursor
      graphs_->train_step(first, count);
    } else {
      require_data();
      const int64_t t = step_ + 1;
      const math::OptimizerStep step = math::scheduled_optimizer_step(options_.optimizer, schedule_, lr_scale_, t);
      StepSource source;
      source.first = math::per_step_value(first);
      source.step_size = math::per_step_value(step.step_size);
      source.learning_rate = math::per_step_value(step.learning_rate);
      if (collectives_ == nullptr) {
        enqueue_train_step(count, source);
      } else {
        train_rank_slice(first, count, source);
      }
    }
    ++step_;
    if (process_steps_ == options_.profile_last_step) {
      flush_held_steps();
      CUDA_CHECK(cudaProfilerStop());
    }
  }

  void evaluate_batch(Split split, int64_t first, int count, float* probabilities_out) override {
    ScopedRange range("evaluate_batch");
    CUDA_CHECK(cudaSetDevice(device_));
    check_count(count);
    if (uses_device_counters() && probabilities_out == nullptr) {
      require_data().check_batch(split, first, count);
      graphs_->evaluate_batch(split, first, count);
      return;
    }
    flush_held_steps();
    cudaStream_t stream = stream_.get();
    require_data().load_batch(split, first, count, images_.data(), labels_.data(), stream);
    forward(count, false);
    launch_softmax_xent(logits_.data(), labels_.data(), count, kClasses, nullptr,
                        probabilities_out != nullptr ? probabilities_.data() : nullptr, evaluation_totals(), stream,
                        softmax_extras(nullptr, math::StepAdvance{}));
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
    flush_held_steps();
    DeviceTotals host{};
    CUDA_CHECK(cudaMemcpyAsync(&host, totals_for(kind), sizeof(DeviceTotals), cudaMemcpyDeviceToHost, stream_.get()));
    // Documented: reading the totals synchronizes; they are final only after the queued steps.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    return to_pass_totals(host);
  }

  // Always the tutorial's: make_backend gives other specs to make_network_backend.
  const model::NetworkSpec& network() const override { return options_.spec; }

  ImageActivations activations(Split split, int64_t index) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    cudaStream_t stream = stream_.get();
    require_data().load_image(split, index, images_.data(), labels_.data(), stream);
    forward(1, true);
    launch_softmax_xent(logits_.data(), labels_.data(), 1, kClasses, nullptr, probabilities_.data(), nullptr, stream);
    ImageActivations result;
    result.conv_relu.resize(kConvOutputs);
    result.probabilities.resize(kClasses);
    CUDA_CHECK(cudaMemcpyAsync(result.conv_relu.data(), conv_out_.data(), kConvOutputs * sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaMemcpyAsync(result.probabilities.data(), probabilities_.data(), kClasses * sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // documented: activations() synchronizes
    result.conv_layers.push_back(ConvMaps{0, model::Shape{kConvFilters, kConvSide, kConvSide}, result.conv_relu});
    return result;
  }

  ExecutionReport execution_report(int batch) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    ExecutionReport report;
    report.kernels = kernel_set_name(kernels_);
    report.pooling = pooling_name(pooling_);
    report.launch = graphs_ ? graphs_->launch_phrase() : std::string("eager");
    GraphNodeCount nodes = graphs_ ? graphs_->nodes_per_step(batch) : GraphNodeCount{};
    if (nodes.kernels == 0 && loader_ && loader_->gathers_at_device_cursor() && batch >= 1 &&
        batch <= options_.max_batch) {
      // What a step changes: parameters, gradients, Adam's moments, the totals, the step counters.
      const std::vector<DeviceBytes> changed{
          {arenas_.data(), arenas_.bytes()}, {totals_.data(), totals_.bytes()}, {counters_.data(), counters_.bytes()}};
      nodes = count_training_step_nodes(*loader_, batch, counters_.data(), stream_.get(), changed,
                                        [&] { enqueue_train_step(batch, device_counter_source()); });
    }
    report.kernels_per_step = nodes.kernels;
    report.details = "convolution: " + conv_->describe();
    if (epilogues_) report.details += "; " + epilogues_->describe();
    return report;
  }

 private:
  // Where an enqueued step reads its per-step values: host arguments (eager) or the device
  // counters (graph replay), which the step then advances.
  struct StepSource {
    math::PerStep<int64_t> first;
    math::PerStep<float> step_size;
    math::PerStep<float> learning_rate;
    math::StepCounters* counters = nullptr;
  };

  StepSource device_counter_source(int split = 0) {
    StepSource source;
    source.first = math::per_step_on_device(&counters_.data()->cursor[split]);
    source.step_size = math::per_step_on_device(&counters_.data()->adam_step_size);
    source.learning_rate = math::per_step_on_device(&counters_.data()->learning_rate);
    source.counters = counters_.data();
    return source;
  }

  bool uses_device_counters() const { return graphs_ && loader_ && loader_->gathers_at_device_cursor(); }

  static int split_index(Split split) { return split == Split::kTrain ? 0 : 1; }

  void load(Split split, int count, const math::PerStep<int64_t>& first) {
    if (first.device != nullptr) {
      require_data().load_batch_at_cursor(split, first.device, count, images_.data(), labels_.data(), stream_.get());
    } else {
      require_data().load_batch(split, first.value, count, images_.data(), labels_.data(), stream_.get());
    }
  }

  SoftmaxXentExtras softmax_extras(math::StepCounters* counters, const math::StepAdvance& advance) const {
    SoftmaxXentExtras extras;
    if (kernels_ == KernelSet::kFused) extras.scratch = &softmax_scratch_;
    extras.counters = counters;
    extras.advance = advance;
    return extras;
  }

  // The NCCL communicator of a data-parallel job (collective: every rank constructs its backend).
  void join_gradient_sum(distributed::Collectives& collectives) {
    collectives_ = &collectives;
    gradient_sum_ = std::make_unique<RankGradientSum>(collectives);  // throws in a build without NCCL
    if (options_.graph) description_ += ", eager (--graph is off with several ranks)";
  }

  // This rank's slice of the global batch order[first, first + count): its gradients, the mean
  // over all `count`, summed over the ranks, then the update. Waits for the sum.
  void train_rank_slice(int64_t first, int count, StepSource source) {
    const distributed::BatchSlice slice = gradient_sum_->slice(count);
    source.first = math::per_step_value(first + slice.offset);
    enqueue_train_step(slice.count, source, count);
    gradient_sum_->wait(stream_.get());
  }

  // One training step on the stream: no host sync, no host state changed (so it can be captured).
  // `mean_over`: with several ranks, the global batch this rank's `count` samples (maybe none)
  // are a slice of; its gradients are summed over the ranks before the update.
  void enqueue_train_step(int count, const StepSource& source, int mean_over = 0) {
    cudaStream_t stream = stream_.get();
    if (count == 0) {
      // A batch smaller than the world: this rank adds zeros to the sum and updates with the others.
      CUDA_CHECK(cudaMemsetAsync(gradients(), 0, kParameterCount * sizeof(float), stream));
    } else {
      enqueue_gradients(count, source, mean_over);
    }
    if (gradient_sum_) gradient_sum_->sum(gradients(), kParameterCount, stream);
    // The fused set checks the gradients for NaN/Inf inside Adam's pass, the classic one before.
    DeviceTotals* check_in_adam = kernels_ == KernelSet::kFused ? training_totals() : nullptr;
    if (check_in_adam == nullptr) launch_flag_nonfinite(gradients(), kParameterCount, training_totals(), stream);
    ScopedRange update("optimizer");
    // --clip-norm: the factor (of the summed gradients) stays on the device for the optimizer to
    // multiply the gradients by.
    const float* gradient_scale = clip_ ? clip_->enqueue(gradients(), kParameterCount, stream) : nullptr;
    const OptimizerConfig& optimizer = options_.optimizer;
    if (optimizer.kind != OptimizerKind::kAdam) {
      launch_optimizer(optimizer, parameters(), gradients(), adam_m(), adam_v(), kParameterCount, source.learning_rate,
                       source.step_size, stream, check_in_adam, gradient_scale);
    } else if (source.step_size.device != nullptr) {
      launch_adam_at_counters(parameters(), gradients(), adam_m(), adam_v(), kParameterCount, optimizer.beta1,
                              optimizer.beta2, source.step_size.device, optimizer.epsilon, stream, check_in_adam,
                              gradient_scale);
    } else {
      launch_adam(parameters(), gradients(), adam_m(), adam_v(), kParameterCount, optimizer.beta1, optimizer.beta2,
                  source.step_size.value, optimizer.epsilon, stream, check_in_adam, gradient_scale);
    }
  }

  // Load, forward, softmax-CE and backward of `count` samples: the gradient arena overwritten.
  void enqueue_gradients(int count, const StepSource& source, int mean_over) {
    cudaStream_t stream = stream_.get();
    {
      ScopedRange load_range("load_batch");
      load(Split::kTrain, count, source.first);
    }
    {
      ScopedRange pass("forward");
      forward(count, false);
      math::StepAdvance advance;
      advance.split = 0;
      advance.count = count;
      advance.adam = true;
      advance.optimizer = options_.optimizer;
      advance.schedule = schedule_;
      SoftmaxXentExtras extras = softmax_extras(source.counters, advance);
      extras.label_smoothing = options_.label_smoothing;
      extras.mean_over = mean_over;
      launch_softmax_xent(logits_.data(), labels_.data(), count, kClasses, dlogits_.data(), nullptr, training_totals(),
                          stream, extras);
    }
    ScopedRange pass("backward");
    backward(count);
  }

  // One evaluation batch at the device cursor of `split`, which it advances.
  void enqueue_evaluation_at_cursor(Split split, int count) {
    const StepSource source = device_counter_source(split_index(split));
    load(split, count, source.first);
    forward(count, false);
    math::StepAdvance advance;
    advance.split = split_index(split);
    advance.count = count;
    launch_softmax_xent(logits_.data(), labels_.data(), count, kClasses, nullptr, nullptr, evaluation_totals(),
                        stream_.get(), softmax_extras(source.counters, advance));
  }


  // Launches the training steps the planner holds back to fill a multi-step graph; before
  // anything that reads their results or changes what they read.
  void flush_held_steps() {
    if (graphs_) graphs_->flush();
  }

  // Whether the dense layers run on cuBLASLt epilogues for this batch size: --kernels fused and
  // cuBLASLt offers all four (asked once per size). All or none, because the ReLU mask the
  // backward epilogue reads is written by the forward one.
  bool dense_epilogues(int count) {
    if (!epilogues_) return false;
    const auto found = epilogues_available_.find(count);
    if (found != epilogues_available_.end()) return found->second;
    const bool available = epilogues_->supports(DenseEpilogue::kForwardBiasRelu, count, kFlatFeatures, kHidden) &&
                           epilogues_->supports(DenseEpilogue::kForwardBias, count, kHidden, kClasses) &&
                           epilogues_->supports(DenseEpilogue::kBackwardWeightBias, count, kHidden, kClasses) &&
                           epilogues_->supports(DenseEpilogue::kBackwardInputRelu, count, kHidden, kClasses);
    epilogues_available_.emplace(count, available);
    return available;
  }

  // Forward pass of images_ (count, 1, 28, 28) into pooled_, hidden_ and logits_. conv_out_ holds
  // the post-ReLU convolution maps when want_conv_maps (always, except with the fused pooling
  // kernels, which otherwise never write them).
  void forward(int count, bool want_conv_maps) {
    cudaStream_t stream = stream_.get();
    conv_->forward(images_.data(), parameters() + kConvWeightOffset, count, conv_out_.data());
    if (kernels_ == KernelSet::kFused && pooling_ == PoolingKind::kFused) {
      launch_bias_relu_maxpool2x2_forward(conv_out_.data(), parameters() + kConvBiasOffset, count, kConvFilters,
                                          kConvSide, pooled_.data(), pool_argmax_.data(),
                                          want_conv_maps ? conv_out_.data() : nullptr, stream);
    } else {
      launch_bias_activation(conv_out_.data(), parameters() + kConvBiasOffset, count, kConvFilters,
                             kConvSide * kConvSide, true, stream);
      if (pooling_ == PoolingKind::kCudnn) {
        cudnn_pool_->forward(conv_out_.data(), count, pooled_.data());
      } else {
        launch_maxpool2x2_forward(conv_out_.data(), count, kConvFilters, kConvSide, pooled_.data(),
                                  pool_argmax_.data(), stream);
      }
    }
    if (dense_epilogues(count)) {
      // H = relu(P · W1^T + b1), Z = H · W2^T + b2, each one cuBLASLt call
      epilogues_->forward_bias_relu(count, kFlatFeatures, kHidden, pooled_.data(), parameters() + kFc1WeightOffset,
                                    parameters() + kFc1BiasOffset, hidden_.data(), relu_mask_.data());
      epilogues_->forward_bias(count, kHidden, kClasses, hidden_.data(), parameters() + kFc2WeightOffset,
                               parameters() + kFc2BiasOffset, logits_.data());
      return;
    }
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
    if (dense_epilogues(count)) {
      // fc2: dW2 = dZ^T · H with db2 = column sums of dZ; dH = relu'(H) ⊙ (dZ · W2) with db1 =
      // column sums of dH
      epilogues_->backward_weight_bias(count, kHidden, kClasses, hidden_.data(), dlogits_.data(),
                                       grads + kFc2WeightOffset, grads + kFc2BiasOffset);
      epilogues_->backward_input_relu(count, kHidden, kClasses, dlogits_.data(), parameters() + kFc2WeightOffset,
                                      relu_mask_.data(), dhidden_.data(), grads + kFc1BiasOffset);
    } else {
      // fc2: dW2 = dZ^T · H, db2 = column sums of dZ, dH = dZ · W2
      dense_backward_weight(cublas_.get(), hidden_.data(), dlogits_.data(), count, kHidden, kClasses,
                            grads + kFc2WeightOffset);
      launch_channel_sum(dlogits_.data(), count, kClasses, 1, grads + kFc2BiasOffset, stream);
      dense_backward_input(cublas_.get(), dlogits_.data(), parameters() + kFc2WeightOffset, count, kHidden, kClasses,
                           dhidden_.data());
      launch_relu_backward(hidden_.data(), dhidden_.data(), static_cast<std::size_t>(count) * kHidden, stream);
      launch_channel_sum(dhidden_.data(), count, kHidden, 1, grads + kFc1BiasOffset, stream);
    }
    // fc1: dW1 = dH^T · P, dP = dH · W1
    dense_backward_weight(cublas_.get(), pooled_.data(), dhidden_.data(), count, kFlatFeatures, kHidden,
                          grads + kFc1WeightOffset);
    dense_backward_input(cublas_.get(), dhidden_.data(), parameters() + kFc1WeightOffset, count, kFlatFeatures,
                         kHidden, dpooled_.data());
    float* conv_bias_grad = grads + kConvBiasOffset;
    if (kernels_ == KernelSet::kFused && pooling_ == PoolingKind::kFused) {
      // pool backward with the ReLU mask from the pooled maps and dbc summed on the way
      launch_maxpool2x2_relu_backward_bias(dpooled_.data(), pool_argmax_.data(), pooled_.data(), count, kConvFilters,
                                           kConvSide, dconv_.data(), conv_bias_grad, channel_sum_scratch(), stream);
      conv_->backward_weight(images_.data(), dconv_.data(), count, grads + kConvWeightOffset);
      return;
    }
    if (pooling_ == PoolingKind::kCudnn) {
      // dconv = route(dP) to the window maxima (cuDNN), then the conv ReLU mask
      cudnn_pool_->backward(conv_out_.data(), pooled_.data(), dpooled_.data(), count, dconv_.data());
      launch_relu_backward(conv_out_.data(), dconv_.data(), static_cast<std::size_t>(count) * kConvOutputs, stream);
    } else {
      // pool backward, fused with the conv ReLU mask: dconv = route(dP) where conv_out > 0
      launch_maxpool2x2_relu_backward(dpooled_.data(), pool_argmax_.data(), conv_out_.data(), count, kConvFilters,
                                      kConvSide, dconv_.data(), stream);
    }
    // conv: dWc = dconv ⋆ X (cuDNN backward-filter), dbc = per-channel sums of dconv
    conv_->backward_weight(images_.data(), dconv_.data(), count, grads + kConvWeightOffset);
    if (kernels_ == KernelSet::kFused) {
      launch_channel_sum_spread(dconv_.data(), count, kConvFilters, kConvSide * kConvSide, conv_bias_grad,
                                channel_sum_scratch(), stream);
    } else {
      launch_channel_sum(dconv_.data(), count, kConvFilters, kConvSide * kConvSide, conv_bias_grad, stream);
    }
  }

  void allocate_fused_buffers() {
    const std::size_t b = static_cast<std::size_t>(options_.max_batch);
    epilogues_ = std::make_unique<EpilogueDense>(stream_.get(), cublas_workspace_.data(), cublas_workspace_.bytes(),
                                                 options_.tf32);
    relu_mask_ = DeviceBuffer<uint8_t>(dense_relu_mask_bytes(options_.max_batch, kHidden), "the fc1 ReLU mask");
    channel_sums_ = ChannelSumBuffers(kConvFilters, stream_.get());
    const int softmax_blocks = static_cast<int>((b + kSoftmaxRowsPerBlock - 1) / kSoftmaxRowsPerBlock);
    softmax_loss_partials_ = DeviceBuffer<double>(static_cast<std::size_t>(softmax_blocks), "softmax partials");
    softmax_correct_partials_ =
        DeviceBuffer<unsigned long long>(static_cast<std::size_t>(softmax_blocks), "softmax partials");
    softmax_counter_ = DeviceBuffer<unsigned int>(1, "the softmax counter");
    // The arrival counter starts at zero; the kernels re-arm it after each use.
    CUDA_CHECK(cudaMemsetAsync(softmax_counter_.data(), 0, softmax_counter_.bytes(), stream_.get()));
    softmax_scratch_ = SoftmaxXentScratch{softmax_loss_partials_.data(), softmax_correct_partials_.data(),
                                          softmax_counter_.data(), softmax_blocks};
  }

  ChannelSumScratch channel_sum_scratch() { return channel_sums_.scratch(); }

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
  KernelSet kernels_ = KernelSet::kClassic;
  PoolingKind pooling_ = PoolingKind::kFused;
  std::string description_;
  int64_t step_ = 0;           // the optimizer's t, on the host so the step size needs no read-back
  LrSchedule schedule_;        // constant until set_learning_rate_schedule
  float lr_scale_ = 1.0f;      // ReduceLROnPlateau's scale (also in the device counters)
  int64_t process_steps_ = 0;  // train_step calls in this process, for --profile-steps
  std::map<int, bool> epilogues_available_;  // per batch size, see dense_epilogues()

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
  std::unique_ptr<CudnnPool> cudnn_pool_;         // --pooling cudnn
  std::unique_ptr<EpilogueDense> epilogues_;      // --kernels fused
  DeviceBuffer<uint8_t> relu_mask_;               // fc1's ReLU bits (cuBLASLt layout)
  ChannelSumBuffers channel_sums_;                // multi-block channel sums
  DeviceBuffer<double> softmax_loss_partials_;    // multi-block softmax
  DeviceBuffer<unsigned long long> softmax_correct_partials_;
  DeviceBuffer<unsigned int> softmax_counter_;
  SoftmaxXentScratch softmax_scratch_;
  DeviceBuffer<math::StepCounters> counters_;     // the step's own position and Adam step (--graph)
  std::unique_ptr<GradientClip> clip_;            // --clip-norm
  std::unique_ptr<BatchLoader> loader_;
  distributed::Collectives* collectives_ = nullptr;  // several ranks; null for one process
  std::unique_ptr<RankGradientSum> gradient_sum_;  // several ranks
  std::unique_ptr<GraphLauncher> graphs_;         // --graph; destroyed first
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
  // make_backend sends other specs to make_network_backend; this guards direct callers, with what
  // the header-only parts of NetworkSpec can tell (cuda/ links without host/'s code).
  if (options.spec.parameter_count != kParameterCount || options.spec.buffer_count != 0 ||
      options.spec.input != model::Shape{1, kImageSide, kImageSide} || options.spec.layers.size() != 5) {
    throw Error("make_cuda_backend runs the tutorial network only; other models run through make_network_backend");
  }
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
