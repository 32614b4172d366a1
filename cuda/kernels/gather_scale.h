// The first layer of every step: gather a batch of uint8 images by index and scale them to
// [0,1] floats on the device (see gather_scale.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace train_gpu::cuda {

// For i in [0, count), with sample(i) = order ? order[first + i] : first + i:
//   images_out[i] (image_pixels floats) = math::scale_pixel(pixels[sample(i)])
//   labels_out[i]                       = labels[sample(i)]
// pixels (samples, image_pixels) and labels live in device memory. Overwrites both outputs.
void launch_gather_scale(const uint8_t* pixels, const uint8_t* labels, const int32_t* order, int64_t first, int count,
                         int image_pixels, float* images_out, uint8_t* labels_out, cudaStream_t stream);

// The same with `first` read from device memory when the kernel runs (a replayed CUDA graph's
// batch cursor, cuda/math/step_counters.h). The caller guarantees the range is inside the order.
void launch_gather_scale_at_cursor(const uint8_t* pixels, const uint8_t* labels, const int32_t* order,
                                   const int64_t* first_on_device, int count, int image_pixels, float* images_out,
                                   uint8_t* labels_out, cudaStream_t stream);

}  // namespace train_gpu::cuda
