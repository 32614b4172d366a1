// Fused softmax + sparse categorical cross-entropy for one row of logits.
//
//   m    = max_j z_j,   s = log(sum_j exp(z_j - m))         (stable for |z| up to ~1e38)
//   loss = (m - z_label) + s                                (= -log softmax(z)_label)
//   dz_j = scale * (exp((z_j - m) - s) - [j == label])      (scale = 1/N for a batch mean)
//
// s is never added to m: for large logits (|m| ~ 1e4, ulp 1e-3) m + s would round s away,
// costing the loss and every probability ~1e-3 relative; z_j - m is exact for the z_j near m
// that matter (Sterbenz), so both stay accurate to a few ulps at any scale.
//
// With label smoothing e > 0 (PyTorch CrossEntropyLoss(label_smoothing=e)) the target is
// y_j = (1 - e) [j == label] + e / K over K classes:
//   loss = (1 - e) ((m - z_label) + s) + (e / K) sum_j ((m - z_j) + s)
//   dz_j = scale * (p_j - y_j)
// e = 0 takes the original code path, so the default is bit-identical to having no smoothing.
//
// The probabilities are never stored: dz is written directly. `predicted` is argmax z (the first
// index on ties, as numpy.argmax). Both backends call this per row; the CUDA kernel runs it with
// one thread per sample, since a row has only 10 classes.
#pragma once

#include <math.h>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

struct SoftmaxXentRow {
  float loss;
  int predicted;
};

TG_HOST_DEVICE SoftmaxXentRow softmax_xent_row(const float* logits, int classes, int label, float scale,
                                               float* dlogits /* nullable: forward only */,
                                               float label_smoothing = 0.0f) {
  float row_max = logits[0];
  int predicted = 0;
  for (int j = 1; j < classes; ++j) {
    if (logits[j] > row_max) {
      row_max = logits[j];
      predicted = j;
    }
  }
  float sum = 0.0f;
  for (int j = 0; j < classes; ++j) sum += expf(logits[j] - row_max);
  const float log_sum = logf(sum);
  if (label_smoothing != 0.0f) {
    const float off_target = label_smoothing / static_cast<float>(classes);
    float spread = 0.0f;  // sum_j of -log p_j
    for (int j = 0; j < classes; ++j) {
      spread += (row_max - logits[j]) + log_sum;
      if (dlogits != nullptr) {
        const float target = (j == label ? 1.0f - label_smoothing : 0.0f) + off_target;
        dlogits[j] = scale * (expf((logits[j] - row_max) - log_sum) - target);
      }
    }
    return SoftmaxXentRow{(1.0f - label_smoothing) * ((row_max - logits[label]) + log_sum) + off_target * spread,
                          predicted};
  }
  if (dlogits != nullptr) {
    for (int j = 0; j < classes; ++j) {
      dlogits[j] = scale * (expf((logits[j] - row_max) - log_sum) - (j == label ? 1.0f : 0.0f));
    }
  }
  return SoftmaxXentRow{(row_max - logits[label]) + log_sum, predicted};
}

// Softmax probabilities of one row (for evaluation output and feature maps).
TG_HOST_DEVICE void softmax_row(const float* logits, int classes, float* probabilities) {
  float row_max = logits[0];
  for (int j = 1; j < classes; ++j) row_max = logits[j] > row_max ? logits[j] : row_max;
  float sum = 0.0f;
  for (int j = 0; j < classes; ++j) {
    probabilities[j] = expf(logits[j] - row_max);
    sum += probabilities[j];
  }
  for (int j = 0; j < classes; ++j) probabilities[j] /= sum;
}

}  // namespace train_gpu::math
