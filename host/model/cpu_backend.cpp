#include "host/model/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/math/activation_math.h"
#include "cuda/math/clip_math.h"
#include "cuda/math/lr_schedule_math.h"
#include "cuda/math/optimizer_math.h"
#include "cuda/math/softmax_xent_math.h"
#include "host/common/error.h"
#include "host/distributed/batch_slice.h"
#include "host/distributed/collectives.h"
#include "host/model/cpu/conv2d_layer.h"
#include "host/model/cpu/cpu_network.h"
#include "host/model/cpu_conv_pool.h"
#include "host/model/cpu_gemm.h"
#include "host/model/cpu_layers.h"
#include "host/model/cpu_optimizer.h"
#include "host/model/cpu_threads.h"
#include "host/model/image_set_check.h"
#include "host/model/model_state_check.h"

namespace train_gpu {

namespace {

using namespace model;

// Large enough for any sensible batch, small enough that the tutorial's (N, 5408) buffers (22 KB
// per image each) stay well inside memory and every int index product stays far from overflow.
constexpr int kMaxBatchLimit = 1 << 16;
constexpr int kMaxThreads = 1024;

const char* split_name(Split split) { return split == Split::kTrain ? "train" : "test"; }

// The optimizer's arena in chunks of this many floats, one chunk per parallel_for index: large
// enough to amortize the scheduling, small enough (64 KB a chunk) to split the tutorial's 694k parameters evenly.
constexpr std::size_t kAdamChunk = 16384;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& options)
      : optimizer_(options.optimizer),
        clip_norm_(options.clip_norm),
        label_smoothing_(options.label_smoothing),
        flush_denormals_(options.flush_denormals),
        requested_threads_(checked_threads(options.threads)),
        threads_(cpu::set_thread_count(requested_threads_)),  // 0 -> the default count
        seed_(options.seed),
        collectives_(options.collectives),
        network_(options.spec, checked_max_batch(options.max_batch), cpu::CpuNetworkOptions{options.winograd}) {
    const model::NetworkSpec& spec = network_.spec();
    parameters_.assign(spec.parameter_count, 0.0f);
    gradients_.assign(spec.parameter_count, 0.0f);
    adam_m_.assign(spec.parameter_count, 0.0f);
    adam_v_.assign(spec.parameter_count, 0.0f);
    buffers_.assign(spec.buffer_count, 0.0f);
    chunk_finite_.assign((spec.parameter_count + kAdamChunk - 1) / kAdamChunk, 1);
    chunk_squares_.assign(chunk_finite_.size(), 0.0);
    labels_.assign(std::size_t(options.max_batch), 0);
    cpu::conv_pool_isa();  // chosen now (timed, or TRAIN_GPU_CONV_POOL checked), before anything is printed
  }

  const model::NetworkSpec& network() const override { return network_.spec(); }

  std::string description() const override {
    return "cpu (" + cpu::gemm_library() + " sgemm, conv+pool " + cpu::conv_pool_choice() + ", " +
           cpu::thread_count_phrase(threads_, requested_threads_) +
           (flush_denormals_ ? ", denormals flushed)" : ", denormals kept)");
  }

  std::string kernels() const override {
    const model::NetworkSpec& spec = network_.spec();
    bool fused = false, primitives = false;
    std::string winograd;  // the 1-based numbers of the layers that run Winograd, as summary numbers them
    for (int layer = 0; layer < int(spec.layers.size()); ++layer) {
      fused |= network_.fused(layer);
      const LayerKind kind = spec.layers[std::size_t(layer)].kind;
      const auto* convolution = dynamic_cast<const cpu::Conv2DLayer*>(network_.layer(layer));
      if (convolution != nullptr && convolution->winograd()) {
        winograd += (winograd.empty() ? "" : ", ") + std::to_string(layer + 1);
      }
      primitives |= (kind == LayerKind::kConv2D && !network_.fused(layer)) || kind == LayerKind::kAvgPool2D ||
                    kind == LayerKind::kBatchNorm || (kind == LayerKind::kMaxPool2D && !(layer > 0 && network_.fused(layer - 1)));
    }
    return cpu::gemm_library() + (primitives ? " sgemm and primitives" : " sgemm") +
           (fused ? ", conv+pool " + cpu::conv_pool_isa() : std::string()) +
           (winograd.empty() ? std::string() : ", Winograd conv (layer " + winograd + ")");
  }

  ExecutionReport execution_report(int batch) override {
    (void)batch;
    // bench's kernels column is a short word; the whole names go on the line bench prints above it.
    ExecutionReport report;
    report.kernels = cpu::conv_pool_isa();
    report.details = "cpu kernels: " + kernels();
    return report;
  }

  void attach_data(const ImageSet& train, const ImageSet& test) override {
    const ModelInput expected = model_input_of(network_.spec());
    check_image_set(train, "train", expected);
    check_image_set(test, "test", expected);
    classes_ = train.classes;
    training_totals_ = PassTotals(classes_);
    evaluation_totals_ = PassTotals(classes_);
    train_ = &train;
    test_ = &test;
    train_order_.clear();
    test_order_.clear();
  }

  void set_state(const ModelState& state) override {
    check_model_state(state, network_.spec());
    parameters_ = state.parameters;
    adam_m_ = state.adam_m;
    adam_v_ = state.adam_v;
    buffers_ = state.buffers;
    step_ = state.step;
    has_state_ = true;
  }

  ModelState state() override {
    require_state("state()");
    ModelState state;
    state.parameters = parameters_;
    state.adam_m = adam_m_;
    state.adam_v = adam_v_;
    state.buffers = buffers_;
    state.step = step_;
    return state;
  }

  void set_learning_rate_schedule(const LrSchedule& schedule, float scale) override {
    schedule_ = schedule;
    lr_scale_ = scale;
  }

  void set_order(Split split, const std::vector<int32_t>& order) override {
    const ImageSet& set = image_set(split, "set_order");
    for (const int32_t index : order) {
      if (index < 0 || index >= set.count) {
        throw Error(std::string("set_order(") + split_name(split) + "): sample index " + std::to_string(index) +
                    " is outside the split's " + std::to_string(set.count) + " samples");
      }
    }
    (split == Split::kTrain ? train_order_ : test_order_) = order;
  }

  void train_step(int64_t first, int count) override {
    require_state("train_step");
    const cpu::ComputeScope compute(threads_, flush_denormals_);
    const int64_t t = step_ + 1;
    const int64_t batch_index = training_totals_.batches;
    double batch_loss = 0.0;
    if (collectives_ == nullptr) {
      batch_loss = forward_backward(first, count, count, 0, t);
    } else {
      // This rank's slice of the global batch; the loss is the GLOBAL batch's mean, so the
      // gradients summed over the ranks are one process's.
      batch_samples(Split::kTrain, first, count, "train_step");
      const distributed::BatchSlice slice = distributed::rank_slice(count, collectives_->rank(), collectives_->size());
      if (slice.count > 0) {
        batch_loss = forward_backward(first + slice.offset, slice.count, count, slice.offset, t);
      } else {
        // A batch smaller than the world: this rank adds nothing but still joins the sum.
        std::fill(gradients_.begin(), gradients_.end(), 0.0f);
        training_totals_.batches += 1;
      }
      collectives_->sum_gradients(gradients_.data(), gradients_.size());
    }

    // The optimizer over the whole arena, chunks split over the threads; the learning rate and
    // Adam's bias-corrected step size once per step. Each chunk's gradients are checked for
    // NaN/infinity right after its update, while they are still in the core's cache: a separate
    // pass over the 2.8 MB arena cost 0.15 ms of a 2.2 ms step.
    const math::OptimizerStep step = math::scheduled_optimizer_step(optimizer_, schedule_, lr_scale_, t);
    const OptimizerConfig optimizer = optimizer_;
    float* weights = parameters_.data();
    const float* gradient = gradients_.data();
    float* m = adam_m_.data();
    float* v = adam_v_.data();
    // Clipping costs one more pass over the gradients (sums per chunk, added in chunk order so
    // the norm does not depend on the thread count); without it there is none.
    float gradient_scale = 1.0f;
    if (clip_norm_ > 0.0f) {
      double* chunk_squares = chunk_squares_.data();
      const std::size_t parameter_count = parameters_.size();
      cpu::parallel_for(int(chunk_squares_.size()), [=](int chunk) {
        const std::size_t begin = std::size_t(chunk) * kAdamChunk;
        chunk_squares[chunk] = cpu::sum_of_squares(gradient + begin, std::min(parameter_count, begin + kAdamChunk) - begin);
      });
      double squares = 0.0;
      for (const double chunk : chunk_squares_) squares += chunk;
      gradient_scale = math::clip_scale(squares, clip_norm_);
    }
    // Only the pass's first non-finite batch is recorded: once it is, the check stops.
    const bool check = training_totals_.first_nonfinite_batch < 0;
    uint8_t* chunk_finite = chunk_finite_.data();
    const std::size_t parameter_count = parameters_.size();
    cpu::parallel_for(int(chunk_finite_.size()), [=](int chunk) {
      const std::size_t begin = std::size_t(chunk) * kAdamChunk;
      const std::size_t end = std::min(parameter_count, begin + kAdamChunk);
      cpu::optimizer_update(optimizer, step, gradient_scale, begin, end, weights, gradient, m, v);
      if (check) chunk_finite[chunk] = cpu::all_finite(gradient + begin, end - begin) ? 1 : 0;
    });
    if (check && (!std::isfinite(batch_loss) || std::find(chunk_finite_.begin(), chunk_finite_.end(), 0) !=
                                                    chunk_finite_.end())) {
      training_totals_.first_nonfinite_batch = batch_index;
    }
    step_ = t;
  }

  void evaluate_batch(Split split, int64_t first, int count, float* probabilities_out) override {
    require_state("evaluate_batch");
    const cpu::ComputeScope compute(threads_, flush_denormals_);
    const int32_t* samples = batch_samples(split, first, count, "evaluate_batch");
    gather(split == Split::kTrain ? *train_ : *test_, samples, count);
    network_.forward(parameters_.data(), buffers_.data(), count, cpu::CpuNetwork::Pass{});
    const int64_t batch_index = evaluation_totals_.batches;
    const double batch_loss =
        accumulate_losses(count, count, 1.0f / static_cast<float>(count), nullptr, evaluation_totals_);
    if (evaluation_totals_.first_nonfinite_batch < 0 && !std::isfinite(batch_loss)) {
      evaluation_totals_.first_nonfinite_batch = batch_index;
    }
    if (probabilities_out != nullptr) {
      const int classes = network_.spec().classes();
      for (int n = 0; n < count; ++n) {
        math::softmax_row(network_.logits() + std::size_t(n) * classes, classes,
                          probabilities_out + std::size_t(n) * classes);
      }
    }
  }

  PassTotals take_totals(PassKind kind) override {
    PassTotals& totals = kind == PassKind::kTraining ? training_totals_ : evaluation_totals_;
    PassTotals taken = std::move(totals);
    totals = PassTotals(classes_);
    return taken;
  }

  PassTotals peek_totals(PassKind kind) override {
    return kind == PassKind::kTraining ? training_totals_ : evaluation_totals_;
  }

  ImageActivations activations(Split split, int64_t index) override {
    require_state("activations");
    const ImageSet& set = image_set(split, "activations");
    if (index < 0 || index >= set.count) {
      throw Error(std::string("activations: image ") + std::to_string(index) + " is outside the " +
                  split_name(split) + " split's " + std::to_string(set.count) + " images");
    }
    const cpu::ComputeScope compute(threads_, flush_denormals_);
    const int32_t sample = static_cast<int32_t>(index);
    gather(set, &sample, 1);
    const model::NetworkSpec& spec = network_.spec();
    // A fused conv + pool pair never stores its maps: forward writes them here when asked.
    std::vector<float> fused_maps(static_cast<std::size_t>(kConvOutputs));
    cpu::CpuNetwork::Pass pass;
    pass.fused_conv_maps = fused_maps.data();
    pass.layer_outputs = true;
    network_.forward(parameters_.data(), buffers_.data(), 1, pass);
    ImageActivations result;
    for (int layer = 0; layer < int(spec.layers.size()); ++layer) {
      const model::LayerSpec& conv = spec.layers[std::size_t(layer)];
      if (conv.kind != LayerKind::kConv2D) continue;
      const float* maps = network_.fused(layer) ? fused_maps.data() : network_.layer_output(layer);
      result.conv_layers.push_back(ConvMaps{layer, conv.output, std::vector<float>(maps, maps + conv.output.size())});
    }
    if (spec.is_tutorial()) result.conv_relu = result.conv_layers.front().values;
    result.probabilities.resize(std::size_t(spec.classes()));
    math::softmax_row(network_.logits(), spec.classes(), result.probabilities.data());
    return result;
  }

 private:
  // Forward, softmax-CE and backward of training samples order[first, first + count) into the
  // gradient arena, the loss's mean taken over `batch_total` samples (the global batch, of which
  // these start at `first_sample`); adds to the training totals and returns the batch loss
  // (this slice's share of the global batch's mean).
  double forward_backward(int64_t first, int count, int batch_total, int first_sample, int64_t t) {
    const int32_t* samples = batch_samples(Split::kTrain, first, count, "train_step");
    gather(*train_, samples, count);
    cpu::CpuNetwork::Pass pass;
    pass.training = true;
    pass.seed = seed_;
    pass.step = t;
    pass.first_sample = first_sample;
    network_.forward(parameters_.data(), buffers_.data(), count, pass);

    // d(batch loss)/d logits: the batch loss is the MEAN of the per-sample losses, hence 1/N.
    const float inverse_count = 1.0f / static_cast<float>(batch_total);
    const double batch_loss =
        accumulate_losses(count, batch_total, inverse_count, network_.dlogits(), training_totals_);
    network_.backward(parameters_.data(), count, gradients_.data());
    return batch_loss;
  }

  static int checked_max_batch(int max_batch) {
    if (max_batch < 1 || max_batch > kMaxBatchLimit) {
      throw Error("cpu backend: batch size " + std::to_string(max_batch) + " is outside 1.." +
                  std::to_string(kMaxBatchLimit));
    }
    return max_batch;
  }

  static int checked_threads(int threads) {
    if (threads < 0 || threads > kMaxThreads) {
      throw Error("cpu backend: " + std::to_string(threads) + " threads; use 1.." + std::to_string(kMaxThreads) +
                  " (0: every core)");
    }
    return threads;
  }

  // The images are gray (one channel) and labels index the model's logits.
  void require_state(const char* operation) const {
    if (!has_state_) throw Error(std::string("cpu backend: ") + operation + " before set_state()");
  }

  const ImageSet& image_set(Split split, const char* operation) const {
    const ImageSet* set = split == Split::kTrain ? train_ : test_;
    if (set == nullptr) throw Error(std::string("cpu backend: ") + operation + " before attach_data()");
    return *set;
  }

  // The batch's sample indices, after checking [first, first + count) against the order and
  // count against the workspace.
  const int32_t* batch_samples(Split split, int64_t first, int count, const char* operation) const {
    image_set(split, operation);
    const std::vector<int32_t>& order = split == Split::kTrain ? train_order_ : test_order_;
    if (count < 1 || count > network_.max_batch()) {
      throw Error(std::string("cpu backend: ") + operation + " of " + std::to_string(count) +
                  " samples; this backend was built for batches of 1.." + std::to_string(network_.max_batch()));
    }
    if (first < 0 || first + count > int64_t(order.size())) {
      throw Error(std::string("cpu backend: ") + operation + " of samples [" + std::to_string(first) + ", " +
                  std::to_string(first + count) + ") but the " + split_name(split) + " order holds " +
                  std::to_string(order.size()) + " (call set_order first)");
    }
    return order.data() + first;
  }

  // Scaled pixels and labels of the batch into the workspace.
  void gather(const ImageSet& set, const int32_t* samples, int count) {
    const int64_t image_size = network_.spec().input.size();  // == set.image_size(): checked by attach_data
    for (int n = 0; n < count; ++n) {
      const uint8_t* pixels = set.image(samples[n]);
      float* image = network_.images() + std::size_t(n) * std::size_t(image_size);
      for (int64_t p = 0; p < image_size; ++p) image[p] = math::scale_pixel(pixels[p]);
      labels_[std::size_t(n)] = set.labels[std::size_t(samples[n])];
    }
  }

  // Softmax-CE of every row of the network's logits (dlogits written when not null, scaled by
  // `scale`); adds losses, predictions and the confusion counts to `totals`. Returns the loss sum
  // over `batch_total` (count, or the global batch of which these rows are a rank's slice).
  double accumulate_losses(int count, int batch_total, float scale, float* dlogits, PassTotals& totals) {
    const int classes = network_.spec().classes();
    double loss_sum = 0.0;
    for (int n = 0; n < count; ++n) {
      const int label = labels_[std::size_t(n)];
      const math::SoftmaxXentRow row =
          math::softmax_xent_row(network_.logits() + std::size_t(n) * classes, classes, label, scale,
                                 dlogits == nullptr ? nullptr : dlogits + std::size_t(n) * classes,
                                 dlogits == nullptr ? 0.0f : label_smoothing_);
      loss_sum += double(row.loss);
      totals.correct += row.predicted == label ? 1 : 0;
      totals.confusion[std::size_t(label * classes + row.predicted)] += 1;
    }
    const double batch_loss = loss_sum / double(batch_total);
    totals.sample_loss_sum += loss_sum;
    totals.batch_loss_sum += batch_loss;
    totals.batches += 1;
    totals.samples += count;
    return batch_loss;
  }

  OptimizerConfig optimizer_;
  float clip_norm_;
  float label_smoothing_;
  LrSchedule schedule_;   // constant until set_learning_rate_schedule
  float lr_scale_ = 1.0f;
  bool flush_denormals_;
  int requested_threads_;  // --threads: 0 for the default, which the device line explains
  int threads_;
  uint64_t seed_;  // dropout masks' key
  distributed::Collectives* collectives_;  // null for a single process
  cpu::CpuNetwork network_;
  std::vector<uint8_t> labels_;  // (max_batch): the current batch's labels
  std::vector<float> parameters_, gradients_, adam_m_, adam_v_;  // the spec's parameter arena
  std::vector<float> buffers_;   // the spec's buffer arena
  std::vector<uint8_t> chunk_finite_;  // per chunk: gradients all finite
  std::vector<double> chunk_squares_;  // per chunk: --clip-norm's sums
  int64_t step_ = 0;
  bool has_state_ = false;
  const ImageSet* train_ = nullptr;
  const ImageSet* test_ = nullptr;
  std::vector<int32_t> train_order_, test_order_;
  int classes_ = model::kClasses;  // the attached data's; sizes the confusion counts
  PassTotals training_totals_{model::kClasses}, evaluation_totals_{model::kClasses};
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace train_gpu
