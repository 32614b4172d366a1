// The backend interface: what the orchestrator asks of a device. The CPU backend
// (host/model/cpu_backend.h) is the first implementation and the oracle; the CUDA backend
// (cuda/cuda_backend.h) is the second. Everything above the math (epochs, shuffling, metrics,
// checkpoints) is written once, against this interface.
//
// Contract for the hot path: set_order() once per pass, then train_step()/evaluate_batch() by
// offsets into that order. Neither synchronizes with the host; totals accumulate in the backend
// (on the device for CUDA) and are read once per pass by take_totals().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda/math/lr_schedule_math.h"
#include "cuda/math/optimizer_math.h"
#include "host/data/image_set.h"
#include "host/model/convolution_algorithms.h"
#include "host/model/model_spec.h"
#include "host/model/network_spec.h"

namespace train_gpu {

namespace distributed {
class Collectives;  // host/distributed/collectives.h
}

// The optimizer and its hyperparameters (Keras's defaults), and the learning-rate schedule: plain
// data the device reads too (cuda/math/optimizer_math.h, cuda/math/lr_schedule_math.h).
using OptimizerConfig = math::OptimizerConfig;
using OptimizerKind = math::OptimizerKind;
using LrSchedule = math::LrSchedule;
using LrScheduleKind = math::LrScheduleKind;

// Parameters and optimizer state on the host, each vector in the parameter arena layout of the
// backend's NetworkSpec (model_spec.h's for the tutorial).
// The two state arenas are the optimizer's slots (cuda/math/optimizer_math.h says which holds
// what for each optimizer; named adam_m/adam_v after the default's); a slot an optimizer does
// not use stays zero.
struct ModelState {
  std::vector<float> parameters;  // spec.parameter_count
  std::vector<float> adam_m;      // slot 0: Adam's first moments, SGD's velocity, RMSprop's momentum
  std::vector<float> adam_v;      // slot 1: Adam's second moments, RMSprop's velocity
  std::vector<float> buffers;     // the spec's buffer arena (BatchNorm moving statistics); empty for the tutorial
  int64_t step = 0;               // optimizer steps taken so far: t of Adam's bias correction and of the schedule
};

enum class Split { kTrain, kTest };
enum class PassKind { kTraining, kEvaluation };

// What one pass (a training epoch, or an evaluation of a split) accumulates.
struct PassTotals {
  PassTotals() = default;
  // Zeroed counts with a classes x classes confusion matrix, as a backend makes them in
  // attach_data (once, so no step allocates).
  explicit PassTotals(int classes) : confusion(std::size_t(classes) * std::size_t(classes), 0) {}

  double batch_loss_sum = 0;       // sum over batches of each batch's mean loss
  double sample_loss_sum = 0;      // sum over samples of each sample's loss
  int64_t batches = 0;
  int64_t samples = 0;
  int64_t correct = 0;             // argmax(logits) == label, before the update for training
  int64_t first_nonfinite_batch = -1;  // index within the pass of the first batch whose loss or
                                       // gradients were not finite; -1 when all were finite
  std::vector<int64_t> confusion;  // (classes, classes): [true * classes + predicted]; empty before attach_data

  // Keras's Mean metric over batch losses, as the tutorial's train_loss reports it.
  double mean_batch_loss() const { return batches > 0 ? batch_loss_sum / double(batches) : 0.0; }
  double mean_sample_loss() const { return samples > 0 ? sample_loss_sum / double(samples) : 0.0; }
  double accuracy() const { return samples > 0 ? double(correct) / double(samples) : 0.0; }
};

struct BackendOptions {
  model::NetworkSpec spec = model::tutorial_network();  // the network to train
  uint64_t seed = 0;            // the run's seed: keys the dropout masks with the step and layer
  OptimizerConfig optimizer;
  // Gradient clipping by global norm (Keras global_clipnorm, PyTorch clip_grad_norm_): when > 0
  // the gradients are scaled by min(1, clip_norm / ||g||) before the update. 0: off, no extra pass.
  float clip_norm = 0.0f;
  // Label smoothing of the training loss (PyTorch CrossEntropyLoss(label_smoothing), Keras
  // CategoricalCrossentropy(label_smoothing)): targets (1 - e) * one_hot + e / classes. 0: off.
  float label_smoothing = 0.0f;
  int max_batch = 100;          // the largest batch train_step/evaluate_batch will be given
  int threads = 0;              // CPU: compute threads, 0 = every core this process may use
  bool flush_denormals = true;  // CPU: FTZ/DAZ on the compute threads (cpu_threads.h says why)
  bool winograd = true;         // CPU: Winograd 3x3 convolutions where oneDNN has them (conv2d_layer.h)
  bool deterministic = false;   // CUDA: deterministic cuDNN algorithms only
  bool tf32 = false;            // CUDA: allow TF32 tensor-core math (off = fp32 parity)
  std::string loader = "auto";  // CUDA: "auto" | "device" (dataset resident) | "pinned" (streamed)
  // CUDA: run these cuDNN convolution algorithms when cuDNN supports them here and they meet
  // `deterministic`/`tf32` (a resumed run's recorded choice, or a test's pin); otherwise, or when
  // not chosen(), the backend chooses. What it ran is conv_algorithms().
  ConvolutionAlgorithms conv_algorithms;
  bool graph = false;           // CUDA: launch steps as captured CUDA graphs (needs the device loader)
  int graph_steps = 8;          // CUDA: training steps per graph replay
  std::string kernels = "classic";  // CUDA: "classic" | "fused" (cuda/kernel_choice.h)
  std::string pooling = "fused";    // CUDA: "fused" (custom kernels) | "cudnn"
  int64_t profile_first_step = 0;   // CUDA: cudaProfilerStart before this step of the process (1-based),
  int64_t profile_last_step = 0;    //       cudaProfilerStop after this one; 0: no profiler calls
  // Data-parallel training (not owned; null for a single process, whose steps stay exactly what
  // they are without it). With it, train_step(first, count) still names the GLOBAL batch: this
  // rank trains on its slice of it (distributed/batch_slice.h), scales its loss gradient by
  // 1/count (the global batch) and sums the gradients over the ranks before clipping and the
  // update; its training totals hold its own samples, with each batch loss its share of the
  // global batch's mean (distributed/totals_reduction.h adds them up). Evaluation is not split.
  distributed::Collectives* collectives = nullptr;
};

// How a backend runs its steps, for `train_gpu bench` and logs.
struct ExecutionReport {
  std::string launch = "n/a";  // "eager", "graph (8 steps per replay)", "eager (why graphs are off)"; n/a: no launches (CPU)
  int kernels_per_step = 0;    // kernel launches in one training step; 0 when unknown
  std::string kernels;         // "classic" | "fused" on a GPU; the CPU's ISA word ("avx512")
  std::string pooling;         // "fused" | "cudnn"; empty for the CPU
  std::string details;         // e.g. which cuBLASLt epilogues were found

  // False for a backend that launches no kernels (the CPU): no graphs, nothing to count.
  bool launches_kernels() const { return launch != ExecutionReport{}.launch; }
};

// One Conv2D layer's maps for one image, after its activation.
struct ConvMaps {
  int layer = 0;       // index into NetworkSpec::layers
  model::Shape shape;  // the layer's output
  std::vector<float> values;  // (C, H, W)
};

// What the network computes for one image.
struct ImageActivations {
  std::vector<ConvMaps> conv_layers;  // every Conv2D layer's maps, in layer order
  std::vector<float> conv_relu;      // the tutorial's (32, 26, 26): convolution + bias, after ReLU (conv_layers[0])
  std::vector<float> probabilities;  // (classes): softmax of the logits
};

class Backend {
 public:
  virtual ~Backend() = default;

  // One line naming the device, e.g. "cpu (oneDNN 2.6.3 avx512_core sgemm, conv+pool avx512,
  // 2 threads, denormals flushed)".
  virtual std::string description() const = 0;

  // Whether this backend computes on a GPU (the CUDA backends); the commands then know whether
  // the GPU-only settings (--tf32, --kernels, ...) took effect.
  virtual bool on_gpu() const { return false; }

  // The kernels a training step runs, short, for the epoch line and `bench`; empty when the
  // description already says it all.
  virtual std::string kernels() const { return {}; }

  // The cuDNN convolution algorithms this backend runs at its largest batch, and how they were
  // chosen; none (not chosen()) for a backend without cuDNN.
  virtual ConvolutionAlgorithms conv_algorithms() const { return {}; }

  // The splits to train and evaluate on. Called once, before any pass; both must outlive the
  // backend. Pixels stay uint8 here; the backend scales them to [0,1] (x / 255).
  virtual void attach_data(const ImageSet& train, const ImageSet& test) = 0;

  // The network this backend runs (BackendOptions::spec).
  virtual const model::NetworkSpec& network() const = 0;

  // Overwrites parameters, buffers, Adam moments and step. Sizes must be the network's.
  virtual void set_state(const ModelState& state) = 0;
  // Copies them back. Synchronizes.
  virtual ModelState state() = 0;

  // The learning-rate schedule of the steps to come and ReduceLROnPlateau's scale (1 until a
  // plateau). The trainer calls it before its first step and after an epoch that changes the
  // scale; without a call the rate is the optimizer's constant learning_rate. No sync.
  virtual void set_learning_rate_schedule(const LrSchedule& schedule, float scale) = 0;

  // Sample indices of `split` in the order the coming pass visits them (copied).
  virtual void set_order(Split split, const std::vector<int32_t>& order) = 0;

  // One optimizer step on training samples order[first, first + count): forward, mean softmax
  // cross-entropy, backward, update. Accumulates into the training totals. No host sync (but
  // with BackendOptions::collectives, the all-reduce waits for every rank).
  virtual void train_step(int64_t first, int count) = 0;

  // Forward only on `split` samples order[first, first + count); accumulates into the evaluation
  // totals. When probabilities_out is not null it also receives the (count, 10) softmax
  // probabilities, which synchronizes.
  virtual void evaluate_batch(Split split, int64_t first, int count, float* probabilities_out = nullptr) = 0;

  // The totals of `kind` accumulated since the last take_totals(kind); resets them. Synchronizes.
  virtual PassTotals take_totals(PassKind kind) = 0;
  // The same without resetting, for progress display. Synchronizes; call a few times a second at most.
  virtual PassTotals peek_totals(PassKind kind) = 0;

  // Convolution maps and class probabilities of one image. Synchronizes.
  virtual ImageActivations activations(Split split, int64_t index) = 0;

  // How training steps of `batch` samples run. May capture (not run) a step to count its
  // kernels, so call it after set_order, outside timed regions.
  virtual ExecutionReport execution_report(int batch) {
    (void)batch;
    return ExecutionReport{};
  }
};

}  // namespace train_gpu
