// Writes into the device step counters (cuda/math/step_counters.h) in stream order, for the
// moments the host decides a value: a pass starting at a new position, a restored Adam step.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace train_gpu::cuda {

// *target = value, enqueued on the stream (ordered after every launch before it that reads it).
void launch_set_counter(int64_t* target, int64_t value, cudaStream_t stream);

// *target = value for a float counter (ReduceLROnPlateau's scale), the same way.
void launch_set_scale(float* target, float value, cudaStream_t stream);

}  // namespace train_gpu::cuda
