// A picture made into the input of a model that is not the tutorial's 1x28x28 digit reader (a
// 3x32x32 CIFAR-style model, a 1x64x64 one): a plain resize to the model's height x width --
// area averaging along an axis that shrinks (each output pixel the mean of the input area it
// covers), bilinear interpolation along one that grows (pixel centres aligned, edges clamped),
// as image libraries resize for inference -- and the model's channel count: a colour picture
// to gray by luma (0.299 R + 0.587 G + 0.114 B) for a 1-channel model, a gray one replicated to
// R = G = B for a 3-channel model. Alpha is dropped, as PIL's convert("RGB") drops it. Nothing
// of the digit normalizer (digit_normalizer.h) applies: no inversion, cropping or centring,
// which only make sense for MNIST-style digits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/model/network_spec.h"
#include "host/predict/png_input.h"

namespace train_gpu::predict {

struct ModelPicture {
  std::vector<uint8_t> pixels;     // (channels, height, width) of the model's input, NCHW's order
  std::vector<std::string> steps;  // what was done, in order, for the user
};

// An Error for a model of other than 1 or 3 channels, or an empty picture.
ModelPicture picture_for_model(const RgbaPicture& picture, const model::Shape& input);

// The resize alone, exposed for its tests: one channel (height, width) row-major to
// (out_height, out_width), area averaging on a shrinking axis, bilinear on a growing one.
std::vector<float> resize_plane(const std::vector<float>& plane, int width, int height, int out_width, int out_height);

}  // namespace train_gpu::predict
