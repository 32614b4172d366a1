// Explicit zero padding of one plane and its gradient's crop, per element: what the GPU's Conv2D
// layer runs for TensorFlow's asymmetric same padding (cuda/network/layer_plan.h says when), and
// what tests/cuda_layer_plan_test.cpp runs on the CPU to show that a valid convolution of the
// padded copy is the same-padded convolution, forward and backward.
//
// The padded plane is (height + top + bottom, width + left + right) with the input at (top, left).
#pragma once

#include "cuda/math/host_device.h"

namespace train_gpu::math {

// The input cell (row * width + col) that padded cell (padded_y, padded_x) copies, or -1 where
// the padded cell is padding (zero).
TG_HOST_DEVICE int padded_source(int padded_y, int padded_x, int height, int width, int top, int left) {
  const int y = padded_y - top;
  const int x = padded_x - left;
  return y >= 0 && y < height && x >= 0 && x < width ? y * width + x : -1;
}

// The padded cell that input cell (y, x) was copied to: its gradient is that cell's.
TG_HOST_DEVICE int padded_cell(int y, int x, int padded_width, int top, int left) {
  return (y + top) * padded_width + (x + left);
}

}  // namespace train_gpu::math
