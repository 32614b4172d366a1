// The activations (ReLU, tanh, sigmoid) and their gradients, and the pixel scaling, shared by
// both backends. Each gradient is evaluated from the activation's OUTPUT, so a layer keeps only
// its output for the backward pass.
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda/math/host_device.h"

namespace train_gpu::math {

TG_HOST_DEVICE float relu(float x) { return x > 0.0f ? x : 0.0f; }

// d/dx relu(x) evaluated from the OUTPUT y = relu(x): y > 0 exactly when x > 0, so the forward
// output is all the backward pass needs to keep.
TG_HOST_DEVICE float relu_backward(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

TG_HOST_DEVICE float tanh_activation(float x) { return tanhf(x); }
// d/dx tanh(x) = 1 - tanh(x)^2
TG_HOST_DEVICE float tanh_backward(float y, float dy) { return dy * (1.0f - y * y); }

// 1 / (1 + e^-x); for x far below 0, expf overflows to infinity and the result is 0, as it should be.
TG_HOST_DEVICE float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
// d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))
TG_HOST_DEVICE float sigmoid_backward(float y, float dy) { return dy * (y * (1.0f - y)); }

// uint8 pixel to [0,1]. Division, not multiplication by 1/255, so 255 maps to exactly 1.0f and
// both backends round identically.
TG_HOST_DEVICE float scale_pixel(uint8_t pixel) { return static_cast<float>(pixel) / 255.0f; }

}  // namespace train_gpu::math
