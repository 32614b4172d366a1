// Fused softmax + sparse categorical cross-entropy over a batch, with the pass statistics
// accumulated on the device (see softmax_xent.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/device_totals.h"

namespace train_gpu::cuda {

// For each row i of logits (count, classes) with label labels[i]:
//   dlogits[i]       = (softmax(z_i) - onehot(label_i)) / count   (overwrites; skipped when null)
//   probabilities[i] = softmax(z_i)                               (overwrites; skipped when null)
// and, when totals is not null, accumulates into *totals: sample_loss_sum += sum_i loss_i,
// batch_loss_sum += (sum_i loss_i) / count, batches += 1, samples += count, correct, confusion,
// and first_nonfinite_batch when the batch loss is not finite. One launch; no host sync.
void launch_softmax_xent(const float* logits, const uint8_t* labels, int count, int classes, float* dlogits,
                         float* probabilities, DeviceTotals* totals, cudaStream_t stream);

// *totals = empty_device_totals(), on the stream.
void launch_reset_totals(DeviceTotals* totals, cudaStream_t stream);

}  // namespace train_gpu::cuda
