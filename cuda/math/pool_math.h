// 2x2 max pooling, stride 2, and its backward pass fused with the preceding ReLU's mask.
//
//   forward:  out[y][x] = max over (dy, dx) in {0,1}^2 of in[2y+dy][2x+dx]
//             argmax    = dy * 2 + dx of the FIRST maximum in row-major window order (ties go
//                         to the earlier element, as numpy.argmax and the CPU backend do)
//   backward: din[2y+dy][2x+dx] = (dy*2+dx == argmax) ? relu_backward(in, dout[y][x]) : 0
//
// The input is the post-ReLU convolution output, so relu_backward(in, g) = (in > 0 ? g : 0)
// applies the ReLU mask in the same pass: a window whose maximum is 0 (all inputs clamped)
// routes no gradient.
#pragma once

#include <cstdint>

#include "cuda/math/activation_math.h"
#include "cuda/math/host_device.h"

namespace train_gpu::math {

struct PoolWinner {
  float value;
  uint8_t position;  // dy * 2 + dx within the window
};

// The first maximum of a window's four values, in row-major window order.
TG_HOST_DEVICE PoolWinner maxpool2x2_winner(const float (&candidates)[4]) {
  PoolWinner winner{candidates[0], 0};
  for (int k = 1; k < 4; ++k) {
    if (candidates[k] > winner.value) winner = PoolWinner{candidates[k], static_cast<uint8_t>(k)};
  }
  return winner;
}

// The window of output (out_y, out_x) in one (side, side) plane, side even.
TG_HOST_DEVICE PoolWinner maxpool2x2_window(const float* plane, int side, int out_y, int out_x) {
  const float* top = plane + (2 * out_y) * side + 2 * out_x;
  const float candidates[4] = {top[0], top[1], top[side], top[side + 1]};
  return maxpool2x2_winner(candidates);
}

// The same window of relu(plane + bias): the convolution's bias and ReLU applied on the way
// into the pooling, in the same order of operations as a separate bias + ReLU pass followed by
// maxpool2x2_window, so the results are identical. `activated` (nullable) receives the four
// post-ReLU values in window order.
TG_HOST_DEVICE PoolWinner bias_relu_maxpool2x2_window(const float* plane, int side, int out_y, int out_x,
                                                      float bias, float* activated) {
  const float* top = plane + (2 * out_y) * side + 2 * out_x;
  const float candidates[4] = {relu(top[0] + bias), relu(top[1] + bias), relu(top[side] + bias),
                               relu(top[side + 1] + bias)};
  if (activated != nullptr) {
    for (int k = 0; k < 4; ++k) activated[k] = candidates[k];
  }
  return maxpool2x2_winner(candidates);
}

// The gradient reaching input element `position` (dy * 2 + dx) of a window, ReLU mask included.
// Only the winner's input matters, and the winner's input IS the window's output: so `input`
// may be the pooled output instead (what the fused backward reads, 4x less than the input map).
TG_HOST_DEVICE float maxpool2x2_relu_backward(float input, float doutput, uint8_t argmax, int position) {
  return position == argmax ? relu_backward(input, doutput) : 0.0f;
}

}  // namespace train_gpu::math
