// ReLU and its gradient, and the pixel scaling, shared by both backends.
#pragma once

#include <cstdint>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

TG_HOST_DEVICE float relu(float x) { return x > 0.0f ? x : 0.0f; }

// d/dx relu(x) evaluated from the OUTPUT y = relu(x): y > 0 exactly when x > 0, so the forward
// output is all the backward pass needs to keep.
TG_HOST_DEVICE float relu_backward(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

// uint8 pixel to [0,1]. Division, not multiplication by 1/255, so 255 maps to exactly 1.0f and
// both backends round identically.
TG_HOST_DEVICE float scale_pixel(uint8_t pixel) { return static_cast<float>(pixel) / 255.0f; }

}  // namespace train_gpu::math
