// The images `train_gpu predict` is given, each turned into the uint8 picture the model takes
// (its input C x H x W; the tutorial's 1x28x28), with what was done to it in words. A file is
// recognized by its first bytes, not its name:
//   PNG     any size, grayscale or colour, alpha: made to look like an MNIST digit
//           (digit_normalizer.h) for a 1x28x28 model; for any other input resized to the model's
//           H x W and made 1 or 3 channels (model_input.h);
//   JPEG    the same, through libjpeg (jpeg_input.h);
// and for a 1x28x28 model only (the others' errors say to give pictures):
//   .npy    (28,28), (N,28,28), (N,1,28,28), (N,28,28,1) or (N,784); uint8 as is, float in [0,1]
//           (the tutorial's x / 255) scaled by 255, float in [0,255] rounded; taken to be
//           MNIST-style already (light digit on black, centred), so nothing else is done;
//   IDX     an images file (magic 0x803, raw or .gz) of 28x28 images, as MNIST ships; when its
//           labels file lies beside it (t10k-images-idx3-ubyte.gz -> t10k-labels-idx1-ubyte.gz)
//           each image's label comes along.
//           A labels file there that cannot be used (damaged, another count) is ignored, and
//           each image's steps say so and why: the labels are optional, the images are not.
// `indices` picks images of a multi-image file (.npy with N, IDX); empty means all of them. A
// single-image file (PNG, JPEG, a (28,28) .npy) is predicted as it is, and with indices its first step
// says that --index did not apply to it.
// A file that cannot be used gives one input with an error (a FIFO, a directory, an IDX file of
// another type, an array of no images: each named for what it is); an index outside a file gives
// one input with an error for that index, and the others are still read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "host/model/model_spec.h"
#include "host/model/network_spec.h"

namespace train_gpu::predict {

struct PredictInput {
  std::string name;                 // "digit.png", "x.npy[3]", "t10k-images-idx3-ubyte.gz[7]"
  std::vector<uint8_t> pixels;      // (C, H, W) of `shape`; empty when `error` is set
  model::Shape shape{1, model::kImageSide, model::kImageSide};
  std::vector<std::string> steps;   // preprocessing, in order
  int label = -1;                   // the true class when the file says it, else -1
  std::string error;                // why this input cannot be predicted; empty when it can
};

// `input` is the model's input shape.
std::vector<PredictInput> load_predict_inputs(const std::filesystem::path& file, const std::vector<int64_t>& indices,
                                              const model::Shape& input = {1, model::kImageSide, model::kImageSide});

}  // namespace train_gpu::predict
