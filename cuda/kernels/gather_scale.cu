// Gather + scale: reads the device-resident uint8 dataset (or a staged uint8 batch when order is
// null) and writes the float batch the convolution consumes. Doing the scaling here keeps the
// dataset at 1 byte per pixel on the device and in transfers (47 MB, not 188 MB for MNIST).
// The per-pixel math is math::scale_pixel, shared with the CPU backend, so both round alike.
#include "cuda/kernels/gather_scale.h"

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/activation_math.h"
#include "cuda/math/step_counters.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void gather_scale_kernel(const uint8_t* pixels, const uint8_t* labels, const int32_t* order,
                                    math::PerStep<int64_t> first_position, int count, int image_pixels,
                                    float* images_out, uint8_t* labels_out) {
  const int64_t first = first_position.get();
  const size_t total = static_cast<size_t>(count) * image_pixels;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int row = static_cast<int>(i / image_pixels);
    const int pixel = static_cast<int>(i % image_pixels);
    const int64_t sample = order != nullptr ? int64_t{order[first + row]} : first + row;
    images_out[i] = math::scale_pixel(pixels[sample * image_pixels + pixel]);
    if (pixel == 0) labels_out[row] = labels[sample];
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

namespace {

void launch(const uint8_t* pixels, const uint8_t* labels, const int32_t* order, math::PerStep<int64_t> first,
            int count, int image_pixels, float* images_out, uint8_t* labels_out, cudaStream_t stream) {
  if (count <= 0 || image_pixels <= 0) return;
  const size_t total = static_cast<size_t>(count) * static_cast<size_t>(image_pixels);
  gather_scale_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(pixels, labels, order, first, count,
                                                                          image_pixels, images_out, labels_out);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_gather_scale(const uint8_t* pixels, const uint8_t* labels, const int32_t* order, int64_t first, int count,
                         int image_pixels, float* images_out, uint8_t* labels_out, cudaStream_t stream) {
  launch(pixels, labels, order, math::per_step_value(first), count, image_pixels, images_out, labels_out, stream);
}

void launch_gather_scale_at_cursor(const uint8_t* pixels, const uint8_t* labels, const int32_t* order,
                                   const int64_t* first_on_device, int count, int image_pixels, float* images_out,
                                   uint8_t* labels_out, cudaStream_t stream) {
  launch(pixels, labels, order, math::per_step_on_device(first_on_device), count, image_pixels, images_out,
         labels_out, stream);
}

}  // namespace train_gpu::cuda
