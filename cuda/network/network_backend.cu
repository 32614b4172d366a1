// The CUDA backend for any NetworkSpec other than the tutorial's (make_backend picks this one for
// them; the tutorial keeps cuda/cuda_backend.cu's fused path, bit for bit). One training step,
// all enqueued on one stream with no host synchronization:
//   loader:   gather + scale the batch by the epoch's order             (cuda/loader/)
//   forward:  the spec's layers                                         (cuda_network.h)
//   loss:     fused softmax-CE: dlogits = (p - onehot)/N, loss sums, correct and a
//             classes x classes confusion into the pass totals ON THE DEVICE (softmax_xent.cu)
//   backward: the layers in reverse, every parameter gradient overwritten
//   update:   the optimizer over the whole parameter arena in one launch, which also flags a
//             non-finite gradient in the totals                         (adam.cu, optimizers.cu)
// The step count t lives on the host, which computes the scheduled learning rate and Adam's
// bias-corrected step size per step without reading anything back, as the tutorial's eager
// steps do.
//
// --graph, as the tutorial's (cuda/cuda_backend.cu, cuda/graph/): each step shape is captured once
// as a CUDA graph and replayed; a replayed step reads its batch position from the loader's device
// cursor, the optimizer's learning rate and step size and Dropout's step from the device step
// counters (cuda/math/step_counters.h), which the loss kernel advances. Same kernels, same
// arguments otherwise, so the same bits as eager launches. Nothing else in a step changes
// between replays: cuDNN descriptors, convolution algorithms (untimed heuristics, never
// cudnnFind) and workspaces are fixed per batch size, and a batch size's first step runs eagerly
// (StepGraphs::run) so that they are built before any capture; no step allocates or
// synchronizes. Graphs are off where the tutorial's are: suspended with a loader that gathers on
// the host, eager for good (with the reason) after a failed capture, off with several ranks.
//
// --kernels fused and --pooling cudnn (cuda/kernel_choice.h), as the tutorial's: the layers that
// cuda/network/fusion_plan.h finds fusable run the tutorial's cuBLASLt epilogues and bias + ReLU +
// pooling kernels, pooling layers run cuDNN's pooling; everything else, and the loss, the
// optimizer and the gradient checks, are the classic path's (the tutorial's fused set also swaps
// those; a spec network does not). The fused choices are fixed per batch size like the rest, so
// graphs capture them (cuBLASLt calls are capturable), and backward still writes the whole
// gradient arena, so several ranks sum it as before.
//
// Several ranks (BackendOptions::collectives, one GPU each), as the tutorial's and as the CPU
// backend's ranks: each trains on its slice of every global batch with the loss's mean taken over
// the global batch and Dropout's masks drawn at the slice's place in it; the whole gradient arena
// is summed over the ranks by one in-place ncclAllReduce between backward and the clip and
// optimizer, and the host waits for each step's sum (cuda/distributed/rank_gradient_sum.h).
// BatchNormalization's batch statistics, and so its moving statistics, are each rank's own
// (rank 0's are the ones its checkpoints keep), as on CPU ranks.
//
// Memory: parameters, gradients and the optimizer's two slots are one allocation of four equal
// arenas (each padded to 256 bytes) in the spec's layout; BatchNormalization's moving statistics
// a second, small arena; the network's activations a third (cuda_network.h).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/cuda_backend.h"
#include "cuda/device_description.h"
#include "cuda/distributed/rank_gradient_sum.h"
#include "cuda/graph/graph_launches.h"
#include "cuda/graph/launch_plan.h"
#include "cuda/graph/step_graphs.h"
#include "cuda/handles.h"
#include "cuda/kernel_choice.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/device_totals.h"
#include "cuda/kernels/gradient_clip.h"
#include "cuda/kernels/optimizers.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/kernels/step_counters.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/loader_choice.h"
#include "cuda/math/step_counters.h"
#include "cuda/math_mode.h"
#include "cuda/memory.h"
#include "cuda/network/cuda_network.h"
#include "cuda/nvtx.h"
#include "host/common/error.h"
#include "host/model/image_set_check.h"
#include "host/model/model_state_check.h"

namespace train_gpu::cuda {
namespace {

// cuBLAS's recommended workspace for Hopper; set so cuBLAS never allocates lazily inside a step.
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

std::size_t arena_stride(std::size_t floats) { return (floats + 63) / 64 * 64; }

ConvolutionChoice convolution_choice(const BackendOptions& options) {
  ConvolutionChoice choice;
  choice.deterministic = options.deterministic;
  choice.tf32 = options.tf32;
  choice.requested = options.conv_algorithms;
  return choice;
}

class NetworkBackend final : public Backend {
 public:
  NetworkBackend(int device, const BackendOptions& options) : device_(device), options_(options) {
    if (options.max_batch <= 0) throw Error("--batch-size " + std::to_string(options.max_batch) + ": must be positive");
    if (options.graph_steps < 1) throw Error("--graph-steps " + std::to_string(options.graph_steps) + ": must be >= 1");
    CUDA_CHECK(cudaSetDevice(device));
    stream_ = make_stream();
    if (options.clip_norm > 0.0f) clip_ = std::make_unique<GradientClip>(options.clip_norm, stream_.get());
    cudnn_ = make_cudnn_handle(stream_.get());
    cublas_ = make_cublas_handle(stream_.get());
    cublas_workspace_ = DeviceBuffer<unsigned char>(kCublasWorkspaceBytes, "the cuBLAS workspace");
    configure_training_cublas(cublas_.get(), cublas_workspace_.data(), cublas_workspace_.bytes(), options.tf32);
    kernels_ = parse_kernel_set(options.kernels);
    pooling_ = parse_pooling(options.pooling);
    NetworkKernels kernels;
    kernels.kernels = kernels_;
    kernels.pooling = pooling_;
    kernels.cublas_workspace = cublas_workspace_.data();
    kernels.cublas_workspace_bytes = cublas_workspace_.bytes();
    kernels.tf32 = options.tf32;
    network_ = std::make_unique<CudaNetwork>(options.spec, options.max_batch, cudnn_.get(), cublas_.get(),
                                             stream_.get(), convolution_choice(options), kernels);
    const model::NetworkSpec& spec = network_->spec();
    classes_ = spec.classes();
    MathModes modes;
    modes.cublas_tf32 = options.tf32;
    modes.conv_forward_tensor = modes.conv_backward_tensor = options.tf32 && network_->conv_algorithms().chosen();
    description_ = describe_device(device) + ", " + describe_math(modes);

    stride_ = arena_stride(spec.parameter_count);
    arenas_ = DeviceBuffer<float>(4 * stride_, "the parameter, gradient and optimizer arenas");
    CUDA_CHECK(cudaMemsetAsync(arenas_.data(), 0, arenas_.bytes(), stream_.get()));
    buffers_ = DeviceBuffer<float>(spec.buffer_count, "the BatchNormalization moving statistics");
    if (spec.buffer_count > 0) CUDA_CHECK(cudaMemsetAsync(buffers_.data(), 0, buffers_.bytes(), stream_.get()));
    const std::size_t batch = std::size_t(options.max_batch);
    labels_ = DeviceBuffer<uint8_t>(batch, "the batch labels");
    probabilities_ = DeviceBuffer<float>(batch * std::size_t(classes_), "probabilities");
    totals_ = DeviceBuffer<DeviceTotals>(2, "pass totals");
    confusion_ = DeviceBuffer<unsigned long long>(2 * confusion_size(), "the confusion counts");
    for (PassKind kind : {PassKind::kTraining, PassKind::kEvaluation}) reset_totals(kind);
    counters_ = DeviceBuffer<math::StepCounters>(1, "the step counters");
    CUDA_CHECK(cudaMemsetAsync(counters_.data(), 0, counters_.bytes(), stream_.get()));
    launch_set_scale(&counters_.data()->lr_scale, 1.0f, stream_.get());
    if (options.collectives != nullptr) {
      gradient_sum_ = std::make_unique<RankGradientSum>(*options.collectives);  // throws in a build without NCCL
      if (options.graph) description_ += ", eager (--graph is off with several ranks)";
    } else if (options.graph) {
      graphs_ = std::make_unique<GraphLauncher>(
          stream_.get(), options.graph_steps, counters_.data(),
          [this](int count) { enqueue_train_step(count, device_counter_source()); },
          [this](Split split, int count) { enqueue_evaluation_at_cursor(split, count); });
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // construction done: report errors here, not later
  }

  ~NetworkBackend() override {
    // Steps held back for a graph group were accepted by train_step: they run, as they would
    // have at the next read, rather than vanish with the backend.
    try {
      flush_held_steps();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "train_gpu: warning: %d held training step(s) could not run: %s\n",
                   graphs_ ? graphs_->held_steps() : 0, error.what());
    }
    // Queued steps still read the loader's buffers: drain before anything is freed.
    const cudaError_t status = cudaStreamSynchronize(stream_.get());
    if (status != cudaSuccess) {
      std::fprintf(stderr, "train_gpu: warning: the CUDA stream ended with an error: %s\n", cudaGetErrorString(status));
    }
    loader_.reset();
  }

  std::string description() const override { return description_; }
  bool on_gpu() const override { return true; }
  std::string kernels() const override {
    return "cuDNN + cuBLAS, spec layers, " + std::string(kernel_set_name(kernels_)) + " kernels, " +
           pooling_name(pooling_) + " pooling";
  }
  ConvolutionAlgorithms conv_algorithms() const override { return network_->conv_algorithms(); }
  const model::NetworkSpec& network() const override { return network_->spec(); }

  void attach_data(const ImageSet& train, const ImageSet& test) override {
    const model::NetworkSpec& spec = network_->spec();
    const ModelInput input{spec.input.channels, spec.input.height, spec.input.width, classes_, "the model"};
    check_image_set(train, "train", input);
    check_image_set(test, "test", input);
    CUDA_CHECK(cudaSetDevice(device_));
    std::size_t free_bytes = 0, total_bytes = 0;
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
    const model::NetworkSpec& spec = network_->spec();
    // The CPU backend's checks, message for message.
    check_model_state(state, spec);
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    cudaStream_t stream = stream_.get();
    const std::size_t bytes = spec.parameter_count * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(parameters(), state.parameters.data(), bytes, cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(slot(0), state.adam_m.data(), bytes, cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(slot(1), state.adam_v.data(), bytes, cudaMemcpyHostToDevice, stream));
    if (spec.buffer_count > 0) {
      CUDA_CHECK(cudaMemcpyAsync(buffers_.data(), state.buffers.data(), buffers_.bytes(), cudaMemcpyHostToDevice, stream));
    }
    launch_set_counter(&counters_.data()->adam_step, state.step, stream);
    // Synchronizes: the copies read the caller's vectors, which may be gone when this returns.
    CUDA_CHECK(cudaStreamSynchronize(stream));
    step_ = state.step;
    has_state_ = true;
  }

  ModelState state() override {
    require_state("state()");
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    const model::NetworkSpec& spec = network_->spec();
    cudaStream_t stream = stream_.get();
    ModelState state;
    state.parameters.resize(spec.parameter_count);
    state.adam_m.resize(spec.parameter_count);
    state.adam_v.resize(spec.parameter_count);
    state.buffers.resize(spec.buffer_count);
    const std::size_t bytes = spec.parameter_count * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(state.parameters.data(), parameters(), bytes, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaMemcpyAsync(state.adam_m.data(), slot(0), bytes, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaMemcpyAsync(state.adam_v.data(), slot(1), bytes, cudaMemcpyDeviceToHost, stream));
    if (spec.buffer_count > 0) {
      CUDA_CHECK(cudaMemcpyAsync(state.buffers.data(), buffers_.data(), buffers_.bytes(), cudaMemcpyDeviceToHost, stream));
    }
    math::StepCounters counters{};
    CUDA_CHECK(cudaMemcpyAsync(&counters, counters_.data(), sizeof counters, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // documented: state() synchronizes
    // With graphs the device counts the optimizer's steps itself; it must have counted what the host did.
    if (uses_device_counters() && counters.adam_step != step_) {
      throw Error("internal error: the device counted " + std::to_string(counters.adam_step) +
                  " optimizer steps, the host " + std::to_string(step_) + "; rerun with --no-graph and report this");
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
    CUDA_CHECK(cudaSetDevice(device_));
    check_count(count);
    require_state("train_step");
    // t counts a step only once it is enqueued: a step that throws must not leave t one ahead.
    if (uses_device_counters()) {
      require_data().check_batch(Split::kTrain, first, count);  // the device only sees a cursor
      graphs_->train_step(first, count);
    } else {
      require_data();
      const int64_t t = step_ + 1;
      const math::OptimizerStep step = math::scheduled_optimizer_step(options_.optimizer, schedule_, lr_scale_, t);
      StepSource source;
      source.first = math::per_step_value(first);
      source.step = math::per_step_value(t);
      source.step_size = math::per_step_value(step.step_size);
      source.learning_rate = math::per_step_value(step.learning_rate);
      if (gradient_sum_) {
        train_rank_slice(first, count, source);
      } else {
        enqueue_train_step(count, source);
      }
    }
    ++step_;
  }

  void evaluate_batch(Split split, int64_t first, int count, float* probabilities_out) override {
    ScopedRange range("evaluate_batch");
    CUDA_CHECK(cudaSetDevice(device_));
    check_count(count);
    require_state("evaluate_batch");
    if (uses_device_counters() && probabilities_out == nullptr) {
      require_data().check_batch(split, first, count);
      graphs_->evaluate_batch(split, first, count);
      return;
    }
    flush_held_steps();
    cudaStream_t stream = stream_.get();
    require_data().load_batch(split, first, count, network_->images(), labels_.data(), stream);
    network_->forward(parameters(), buffers_.data(), count, CudaNetwork::Pass{});
    launch_softmax_xent(network_->logits(), labels_.data(), count, classes_, nullptr,
                        probabilities_out != nullptr ? probabilities_.data() : nullptr, totals(PassKind::kEvaluation),
                        stream, extras(PassKind::kEvaluation));
    if (probabilities_out != nullptr) {
      CUDA_CHECK(cudaMemcpyAsync(probabilities_out, probabilities_.data(),
                                 std::size_t(count) * std::size_t(classes_) * sizeof(float), cudaMemcpyDeviceToHost,
                                 stream));
      // Documented: asking for probabilities synchronizes; the caller reads them on return.
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }

  PassTotals take_totals(PassKind kind) override {
    PassTotals taken = peek_totals(kind);
    reset_totals(kind);
    return taken;
  }

  PassTotals peek_totals(PassKind kind) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    DeviceTotals device{};
    std::vector<unsigned long long> confusion(confusion_size());
    CUDA_CHECK(cudaMemcpyAsync(&device, totals(kind), sizeof device, cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(confusion.data(), confusion_of(kind), confusion.size() * sizeof(unsigned long long),
                               cudaMemcpyDeviceToHost, stream_.get()));
    // Documented: reading the totals synchronizes; they are final only after the queued steps.
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    PassTotals totals = to_pass_totals(device);  // its 10 x 10 confusion is unused here
    totals.confusion.assign(confusion.begin(), confusion.end());
    return totals;
  }

  ImageActivations activations(Split split, int64_t index) override {
    CUDA_CHECK(cudaSetDevice(device_));
    require_state("activations");
    flush_held_steps();
    cudaStream_t stream = stream_.get();
    require_data().load_image(split, index, network_->images(), labels_.data(), stream);
    CudaNetwork::Pass pass;
    pass.keep_outputs = true;  // the convolutions' maps, whichever kernels computed them
    network_->forward(parameters(), buffers_.data(), 1, pass);
    launch_softmax_xent(network_->logits(), labels_.data(), 1, classes_, nullptr, probabilities_.data(), nullptr,
                        stream, extras(PassKind::kEvaluation));
    const model::NetworkSpec& spec = network_->spec();
    ImageActivations result;
    for (int layer = 0; layer < int(spec.layers.size()); ++layer) {
      const model::LayerSpec& conv = spec.layers[std::size_t(layer)];
      if (conv.kind != model::LayerKind::kConv2D) continue;
      result.conv_layers.push_back(ConvMaps{layer, conv.output, std::vector<float>(std::size_t(conv.output.size()))});
      CUDA_CHECK(cudaMemcpyAsync(result.conv_layers.back().values.data(), network_->layer_output(layer),
                                 std::size_t(conv.output.size()) * sizeof(float), cudaMemcpyDeviceToHost, stream));
    }
    result.probabilities.resize(std::size_t(classes_));
    CUDA_CHECK(cudaMemcpyAsync(result.probabilities.data(), probabilities_.data(), std::size_t(classes_) * sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // documented: activations() synchronizes
    return result;
  }

  ExecutionReport execution_report(int batch) override {
    CUDA_CHECK(cudaSetDevice(device_));
    flush_held_steps();
    ExecutionReport report;
    report.launch = gradient_sum_ && options_.graph
                        ? std::string("eager (--graph is off with several ranks)")
                        : (graphs_ ? graphs_->launch_phrase() : std::string("eager"));
    GraphNodeCount nodes = graphs_ ? graphs_->nodes_per_step(batch) : GraphNodeCount{};
    if (nodes.kernels == 0 && !gradient_sum_ && loader_ && loader_->gathers_at_device_cursor() && batch >= 1 &&
        batch <= options_.max_batch) {
      // What a step changes: the parameter, gradient and optimizer arenas, the moving statistics,
      // the totals with their confusion counts, the step counters.
      const std::vector<DeviceBytes> changed{{arenas_.data(), arenas_.bytes()},     {buffers_.data(), buffers_.bytes()},
                                             {totals_.data(), totals_.bytes()},     {confusion_.data(), confusion_.bytes()},
                                             {counters_.data(), counters_.bytes()}};
      nodes = count_training_step_nodes(*loader_, batch, counters_.data(), stream_.get(), changed,
                                        [&] { enqueue_train_step(batch, device_counter_source()); });
    }
    report.kernels_per_step = nodes.kernels;
    report.kernels = kernel_set_name(kernels_);
    report.pooling = pooling_name(pooling_);
    const std::string convolutions = network_->describe_convolutions();
    const std::string fusion = batch >= 1 && batch <= options_.max_batch ? network_->describe_fusion(batch) : "";
    report.details = "spec network (" + network_->spec().description() + ")" +
                     (convolutions.empty() ? std::string() : "; convolutions: " + convolutions) +
                     (fusion.empty() ? std::string() : "; " + fusion);
    return report;
  }

 private:
  // Where an enqueued step reads its per-step values: host arguments (eager) or the device
  // counters (graph replay), which the step then advances.
  struct StepSource {
    math::PerStep<int64_t> first;
    math::PerStep<int64_t> step;  // t for Dropout's masks, through math::forward_step
    math::PerStep<float> step_size;
    math::PerStep<float> learning_rate;
    math::StepCounters* counters = nullptr;
  };

  StepSource device_counter_source(int split = 0) {
    math::StepCounters* counters = counters_.data();
    StepSource source;
    source.first = math::per_step_on_device(&counters->cursor[split]);
    source.step = math::per_step_on_device(&counters->adam_step);
    source.step_size = math::per_step_on_device(&counters->adam_step_size);
    source.learning_rate = math::per_step_on_device(&counters->learning_rate);
    source.counters = counters;
    return source;
  }

  bool uses_device_counters() const { return graphs_ && loader_ && loader_->gathers_at_device_cursor(); }

  static int split_index(Split split) { return split == Split::kTrain ? 0 : 1; }

  void load(Split split, int count, const math::PerStep<int64_t>& first) {
    if (first.device != nullptr) {
      require_data().load_batch_at_cursor(split, first.device, count, network_->images(), labels_.data(),
                                          stream_.get());
    } else {
      require_data().load_batch(split, first.value, count, network_->images(), labels_.data(), stream_.get());
    }
  }

  // This rank's slice of the global batch order[first, first + count): its gradients with the mean
  // over all `count`, summed over the ranks, then the update. Waits for the sum.
  void train_rank_slice(int64_t first, int count, StepSource source) {
    const distributed::BatchSlice slice = gradient_sum_->slice(count);
    source.first = math::per_step_value(first + slice.offset);
    enqueue_train_step(slice.count, source, count, slice.offset);
    gradient_sum_->wait(stream_.get());
  }

  // One training step on the stream: no host sync, no host state changed (so it can be captured).
  // With several ranks: `count` samples (maybe none) of a global batch of `mean_over`, starting at
  // its sample `first_sample`; the gradients are summed over the ranks before the update.
  void enqueue_train_step(int count, const StepSource& source, int mean_over = 0, int first_sample = 0) {
    cudaStream_t stream = stream_.get();
    const std::size_t parameter_count = network_->spec().parameter_count;
    if (count == 0) {
      // A batch smaller than the world: this rank adds zeros to the sum and updates with the others.
      CUDA_CHECK(cudaMemsetAsync(gradients(), 0, parameter_count * sizeof(float), stream));
    } else {
      load(Split::kTrain, count, source.first);
      CudaNetwork::Pass pass;
      pass.training = true;
      pass.seed = options_.seed;
      pass.step = source.step;
      pass.first_sample = first_sample;
      network_->forward(parameters(), buffers_.data(), count, pass);
      math::StepAdvance advance;
      advance.split = 0;
      advance.count = count;
      advance.adam = true;
      advance.optimizer = options_.optimizer;
      advance.schedule = schedule_;
      SoftmaxXentExtras training_extras = extras(PassKind::kTraining);
      training_extras.counters = source.counters;
      training_extras.advance = advance;
      training_extras.label_smoothing = options_.label_smoothing;  // --label-smoothing, as the tutorial's path
      training_extras.mean_over = mean_over;
      launch_softmax_xent(network_->logits(), labels_.data(), count, classes_, network_->dlogits(), nullptr,
                          totals(PassKind::kTraining), stream, training_extras);
      network_->backward(parameters(), count, gradients());
    }
    if (gradient_sum_) gradient_sum_->sum(gradients(), parameter_count, stream);
    const OptimizerConfig& optimizer = options_.optimizer;
    // --clip-norm: the factor (of the summed gradients) stays on the device; the optimizer
    // multiplies each gradient by it.
    const float* gradient_scale = clip_ ? clip_->enqueue(gradients(), parameter_count, stream) : nullptr;
    if (optimizer.kind != OptimizerKind::kAdam) {
      launch_optimizer(optimizer, parameters(), gradients(), slot(0), slot(1), parameter_count, source.learning_rate,
                       source.step_size, stream, totals(PassKind::kTraining), gradient_scale);
    } else if (source.step_size.device != nullptr) {
      launch_adam_at_counters(parameters(), gradients(), slot(0), slot(1), parameter_count, optimizer.beta1,
                              optimizer.beta2, source.step_size.device, optimizer.epsilon, stream,
                              totals(PassKind::kTraining), gradient_scale);
    } else {
      launch_adam(parameters(), gradients(), slot(0), slot(1), parameter_count, optimizer.beta1, optimizer.beta2,
                  source.step_size.value, optimizer.epsilon, stream, totals(PassKind::kTraining), gradient_scale);
    }
  }

  // One evaluation batch at the device cursor of `split`, which it advances.
  void enqueue_evaluation_at_cursor(Split split, int count) {
    const StepSource source = device_counter_source(split_index(split));
    load(split, count, source.first);
    network_->forward(parameters(), buffers_.data(), count, CudaNetwork::Pass{});
    math::StepAdvance advance;
    advance.split = split_index(split);
    advance.count = count;
    SoftmaxXentExtras evaluation_extras = extras(PassKind::kEvaluation);
    evaluation_extras.counters = source.counters;
    evaluation_extras.advance = advance;
    launch_softmax_xent(network_->logits(), labels_.data(), count, classes_, nullptr, nullptr,
                        totals(PassKind::kEvaluation), stream_.get(), evaluation_extras);
  }


  // Launches the training steps the planner holds back to fill a multi-step graph; before
  // anything that reads their results or changes what they read.
  void flush_held_steps() {
    if (graphs_) graphs_->flush();
  }

  void require_state(const char* operation) const {
    if (!has_state_) throw Error(std::string("cuda backend: ") + operation + " before set_state()");
  }

  BatchLoader& require_data() {
    if (!loader_) throw Error("the CUDA backend has no data: call attach_data first");
    return *loader_;
  }

  void check_count(int count) const {
    if (count <= 0 || count > options_.max_batch) {
      throw Error("batch of " + std::to_string(count) + " samples: the CUDA backend was built for 1.." +
                  std::to_string(options_.max_batch) + " (BackendOptions::max_batch)");
    }
  }

  std::size_t confusion_size() const { return std::size_t(classes_) * std::size_t(classes_); }

  SoftmaxXentExtras extras(PassKind kind) {
    SoftmaxXentExtras extras;
    extras.confusion = confusion_of(kind);
    return extras;
  }

  void reset_totals(PassKind kind) {
    launch_reset_totals(totals(kind), stream_.get());
    CUDA_CHECK(cudaMemsetAsync(confusion_of(kind), 0, confusion_size() * sizeof(unsigned long long), stream_.get()));
  }

  float* parameters() { return arenas_.data(); }
  float* gradients() { return arenas_.data() + stride_; }
  float* slot(int index) { return arenas_.data() + (2 + std::size_t(index)) * stride_; }
  DeviceTotals* totals(PassKind kind) { return totals_.data() + (kind == PassKind::kTraining ? 0 : 1); }
  unsigned long long* confusion_of(PassKind kind) {
    return confusion_.data() + (kind == PassKind::kTraining ? 0 : confusion_size());
  }

  int device_;
  BackendOptions options_;
  KernelSet kernels_ = KernelSet::kClassic;    // --kernels
  PoolingKind pooling_ = PoolingKind::kFused;  // --pooling
  std::string description_;
  int classes_ = 0;
  std::size_t stride_ = 0;  // floats per arena
  int64_t step_ = 0;        // the optimizer's t
  bool has_state_ = false;
  LrSchedule schedule_;     // constant until set_learning_rate_schedule
  float lr_scale_ = 1.0f;

  // Declared in dependency order: destroyed in reverse, handles after everything using them.
  Stream stream_;
  CudnnHandle cudnn_;
  DeviceBuffer<unsigned char> cublas_workspace_;  // outlives the handle that points at it
  CublasHandle cublas_;
  std::unique_ptr<CudaNetwork> network_;
  std::unique_ptr<GradientClip> clip_;  // --clip-norm
  DeviceBuffer<float> arenas_;   // parameters | gradients | slot 0 | slot 1, each stride_ floats
  DeviceBuffer<float> buffers_;  // the spec's buffer arena
  DeviceBuffer<uint8_t> labels_;        // (B)
  DeviceBuffer<float> probabilities_;   // (B, classes), only when asked for
  DeviceBuffer<DeviceTotals> totals_;   // [training, evaluation]; their 10 x 10 confusion unused
  DeviceBuffer<unsigned long long> confusion_;  // [training, evaluation] x (classes, classes)
  DeviceBuffer<math::StepCounters> counters_;  // the step's own position and optimizer step (--graph)
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<RankGradientSum> gradient_sum_;  // several ranks
  std::unique_ptr<GraphLauncher> graphs_;         // --graph; destroyed first
};

}  // namespace

std::unique_ptr<Backend> make_network_backend(int device, const BackendOptions& options) {
  const DeviceProbe probe = probe_devices();
  if (device < 0 || device >= probe.device_count) {
    throw Error("--device " + std::to_string(device) + ": no such GPU (" +
                (probe.device_count == 0 ? probe.error : std::to_string(probe.device_count) + " found") +
                "). Use --device cpu to train on the CPU");
  }
  return std::make_unique<NetworkBackend>(device, options);
}

}  // namespace train_gpu::cuda
