// Fused softmax + sparse categorical cross-entropy over a batch, with the pass statistics
// accumulated on the device (see softmax_xent.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/block_split.h"
#include "cuda/kernels/device_totals.h"
#include "cuda/math/step_counters.h"

namespace train_gpu::cuda {

// Device scratch for spreading a large batch over several blocks (block_split.h): one partial
// per block (room for max_blocks) and an arrival counter, zeroed once before first use and
// re-armed by the kernel itself.
struct SoftmaxXentScratch {
  double* loss_partials = nullptr;
  unsigned long long* correct_partials = nullptr;
  unsigned int* counter = nullptr;
  int max_blocks = 0;
};

// The optional parts of a launch. The defaults give the classic single-block kernel.
struct SoftmaxXentExtras {
  const SoftmaxXentScratch* scratch = nullptr;  // spread over softmax_xent_blocks(count, max_blocks)
  math::StepCounters* counters = nullptr;        // when set: advance_counters(*counters, advance)
  math::StepAdvance advance;                     // once the batch is counted (graph replay)
  float label_smoothing = 0.0f;                  // --label-smoothing, where dlogits are written
  // When set: the confusion counts (with totals) go to this (classes, classes) matrix, [true *
  // classes + predicted], instead of totals->confusion (10 x 10), and classes may exceed 10
  // (spec-driven networks, cuda/network/network_backend.cu).
  unsigned long long* confusion = nullptr;
  // The N of the batch mean: 0 for count; with several ranks, the global batch of which these
  // rows are this rank's slice, so the ranks' gradients sum to one process's.
  int mean_over = 0;
};

// For each row i of logits (count, classes) with label labels[i]:
//   dlogits[i]       = (softmax(z_i) - onehot(label_i)) / N       (overwrites; skipped when null;
//                      with extras.label_smoothing e the target and the loss are smoothed,
//                      math::softmax_xent_row: a training pass only, evaluation stays plain)
//   probabilities[i] = softmax(z_i)                               (overwrites; skipped when null)
// (N: count, or extras.mean_over) and, when totals is not null, accumulates into *totals:
// sample_loss_sum += sum_i loss_i, batch_loss_sum += (sum_i loss_i) / N, batches += 1, samples += count, correct, confusion,
// and first_nonfinite_batch when the batch loss is not finite. One launch; no host sync.
void launch_softmax_xent(const float* logits, const uint8_t* labels, int count, int classes, float* dlogits,
                         float* probabilities, DeviceTotals* totals, cudaStream_t stream,
                         const SoftmaxXentExtras& extras = SoftmaxXentExtras{});

// *totals = empty_device_totals(), on the stream.
void launch_reset_totals(DeviceTotals* totals, cudaStream_t stream);

}  // namespace train_gpu::cuda
