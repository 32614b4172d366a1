// What a pass accumulates ON THE DEVICE, in a layout the kernels can update with atomics
// (unsigned 64-bit counters), and its conversion to the host's PassTotals. Plain C++ so the
// conversion is tested without a device; kernels include it too.
#pragma once

#include <cstdint>

#include "host/model/backend.h"
#include "host/model/model_spec.h"

namespace train_gpu::cuda {

struct DeviceTotals {
  double batch_loss_sum;   // sum over batches of each batch's mean loss
  double sample_loss_sum;  // sum over samples of each sample's loss
  unsigned long long batches;
  unsigned long long samples;
  unsigned long long correct;
  long long first_nonfinite_batch;  // -1 while every batch was finite
  unsigned long long confusion[model::kClasses * model::kClasses];  // [true * 10 + predicted]
};

// The state reset_totals writes: zeros, and -1 for "no non-finite batch yet".
inline DeviceTotals empty_device_totals() {
  DeviceTotals totals{};
  totals.first_nonfinite_batch = -1;
  return totals;
}

inline PassTotals to_pass_totals(const DeviceTotals& device) {
  PassTotals totals(model::kClasses);
  totals.batch_loss_sum = device.batch_loss_sum;
  totals.sample_loss_sum = device.sample_loss_sum;
  totals.batches = static_cast<int64_t>(device.batches);
  totals.samples = static_cast<int64_t>(device.samples);
  totals.correct = static_cast<int64_t>(device.correct);
  totals.first_nonfinite_batch = device.first_nonfinite_batch;
  for (int i = 0; i < model::kClasses * model::kClasses; ++i) {
    totals.confusion[static_cast<std::size_t>(i)] = static_cast<int64_t>(device.confusion[i]);
  }
  return totals;
}

}  // namespace train_gpu::cuda
