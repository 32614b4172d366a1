// Fused classifier: softmax, cross-entropy loss, dlogits and the pass statistics in ONE launch.
//
// Fused because each piece alone is a trivial pass over (N, 10) floats and launch latency would
// dominate; the probabilities are never materialized on the training path (llm.c's
// fused_classifier). The per-row math is math::softmax_xent_row (row max subtracted, the 1/N of
// the batch mean passed in as `scale`), which the CPU backend calls too.
//
// Statistics: by default one block of 256 threads, each taking rows i = tid, tid + 256, ...;
// partial sums are combined by a fixed shared-memory tree, so the loss sums are bitwise
// reproducible run to run (double atomics from many blocks would not be). For large batches a
// launch with scratch spreads the rows over one block per 256 and the last block to finish adds
// the blocks' partials in block order (block_reduce.cuh): still reproducible, no longer one SM
// working through thousands of rows. Integer counters (confusion) use atomics, exact in any order.
//
// In a replayed CUDA graph this is also the step's bookkeeping point: the thread that records
// the batch in the totals advances the step counters (cuda/math/step_counters.h), after the
// gather read the cursor and before Adam reads the step size; so no extra launch per step.
#include "cuda/kernels/softmax_xent.h"

#include <math.h>

#include <string>

#include "cuda/check.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/math/softmax_xent_math.h"

namespace train_gpu::cuda {
namespace {

constexpr int kSoftmaxThreads = kSoftmaxRowsPerBlock;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// math::advance_counters, kept out of line so that its PTX is a function of its own, which
// tests/gpu/adam_ptx_test.cpp reads: Adam's step size computed here must be the host's to the
// bit, so no operation in it may be fused (cuda/math/rounded_float.h). One call per step, by one
// thread.
__device__ __noinline__ void advance_step_counters(math::StepCounters* counters, math::StepAdvance advance) {
  math::advance_counters(*counters, advance);
}

// kSmoothed: --label-smoothing. The plain instance passes a constant 0 to softmax_xent_row, whose
// smoothing branch then compiles away: the default kernel is the same code as without the flag.
template <bool kSmoothed>
__global__ void softmax_xent_kernel(const float* logits, const uint8_t* labels, int count, int mean_over, int classes,
                                    float* dlogits, float* probabilities, DeviceTotals* totals,
                                    SoftmaxXentScratch scratch, math::StepCounters* counters,
                                    math::StepAdvance advance, float label_smoothing,
                                    unsigned long long* confusion) {
  __shared__ double loss_partials[kSoftmaxThreads];
  __shared__ unsigned long long correct_partials[kSoftmaxThreads];
  const float scale = 1.0f / static_cast<float>(mean_over);  // the 1/N of the batch mean

  double loss_sum = 0.0;
  unsigned long long correct = 0;
  const int stride = static_cast<int>(gridDim.x) * kSoftmaxThreads;
  for (int i = static_cast<int>(blockIdx.x) * kSoftmaxThreads + static_cast<int>(threadIdx.x); i < count;
       i += stride) {
    const float* row = logits + static_cast<size_t>(i) * classes;
    const int label = labels[i];
    float* row_dlogits = dlogits != nullptr ? dlogits + static_cast<size_t>(i) * classes : nullptr;
    // Smoothing applies to the training loss only, where dlogits are written.
    const math::SoftmaxXentRow result = math::softmax_xent_row(
        row, classes, label, scale, row_dlogits, kSmoothed && row_dlogits != nullptr ? label_smoothing : 0.0f);
    if (probabilities != nullptr) math::softmax_row(row, classes, probabilities + static_cast<size_t>(i) * classes);
    loss_sum += static_cast<double>(result.loss);
    correct += result.predicted == label ? 1ULL : 0ULL;
    if (totals != nullptr) {
      atomicAdd(confusion != nullptr ? &confusion[label * classes + result.predicted]
                                     : &totals->confusion[label * model::kClasses + result.predicted],
                1ULL);
    }
  }
  double batch_loss = block_tree_sum<kSoftmaxThreads>(loss_sum, loss_partials);
  unsigned long long batch_correct = block_tree_sum<kSoftmaxThreads>(correct, correct_partials);
  if (threadIdx.x != 0) return;
  if (gridDim.x > 1) {
    scratch.loss_partials[blockIdx.x] = batch_loss;
    scratch.correct_partials[blockIdx.x] = batch_correct;
    if (!arrived_last(scratch.counter, gridDim.x)) return;
    batch_loss = 0.0;
    batch_correct = 0;
    for (unsigned int b = 0; b < gridDim.x; ++b) {  // block order: reproducible sums
      batch_loss += __ldcg(scratch.loss_partials + b);
      batch_correct += __ldcg(scratch.correct_partials + b);
    }
  }
  if (totals != nullptr) {
    if (!isfinite(batch_loss) && totals->first_nonfinite_batch < 0) {
      totals->first_nonfinite_batch = static_cast<long long>(totals->batches);
    }
    totals->sample_loss_sum += batch_loss;
    totals->batch_loss_sum += batch_loss / static_cast<double>(mean_over);
    totals->batches += 1;
    totals->samples += static_cast<unsigned long long>(count);
    totals->correct += batch_correct;
  }
  if (counters != nullptr) advance_step_counters(counters, advance);
}

__global__ void reset_totals_kernel(DeviceTotals* totals) {
  for (int i = static_cast<int>(threadIdx.x); i < model::kClasses * model::kClasses; i += static_cast<int>(blockDim.x)) {
    totals->confusion[i] = 0;
  }
  if (threadIdx.x == 0) {
    totals->batch_loss_sum = 0.0;
    totals->sample_loss_sum = 0.0;
    totals->batches = 0;
    totals->samples = 0;
    totals->correct = 0;
    totals->first_nonfinite_batch = -1;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_softmax_xent(const float* logits, const uint8_t* labels, int count, int classes, float* dlogits,
                         float* probabilities, DeviceTotals* totals, cudaStream_t stream,
                         const SoftmaxXentExtras& extras) {
  if (count <= 0 || classes <= 0 || (classes > model::kClasses && extras.confusion == nullptr)) {
    throw Error("softmax_xent: count " + std::to_string(count) + " and classes " + std::to_string(classes) +
                " must be positive, classes at most " + std::to_string(model::kClasses) +
                " without a confusion matrix of their own");
  }
  const int blocks = softmax_xent_blocks(count, extras.scratch != nullptr ? extras.scratch->max_blocks : 1);
  const SoftmaxXentScratch scratch = extras.scratch != nullptr ? *extras.scratch : SoftmaxXentScratch{};
  const int mean_over = extras.mean_over > 0 ? extras.mean_over : count;
  if (extras.label_smoothing != 0.0f) {
    softmax_xent_kernel<true><<<static_cast<unsigned int>(blocks), kSoftmaxThreads, 0, stream>>>(
        logits, labels, count, mean_over, classes, dlogits, probabilities, totals, scratch, extras.counters,
        extras.advance, extras.label_smoothing, extras.confusion);
  } else {
    softmax_xent_kernel<false><<<static_cast<unsigned int>(blocks), kSoftmaxThreads, 0, stream>>>(
        logits, labels, count, mean_over, classes, dlogits, probabilities, totals, scratch, extras.counters,
        extras.advance, 0.0f, extras.confusion);
  }
  CUDA_CHECK(cudaGetLastError());
}

void launch_reset_totals(DeviceTotals* totals, cudaStream_t stream) {
  reset_totals_kernel<<<1, 128, 0, stream>>>(totals);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
