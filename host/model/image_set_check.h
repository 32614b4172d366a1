// What every backend checks in attach_data before it trusts a split: images of the model's
// C x H x W, pixel and label counts that match the image count, the model's class count, and
// every label a class index below it. A label past the logits would read out of bounds on the
// CPU, and read and atomicAdd out of bounds into the confusion counts on the GPU. Header-only
// because both the CPU backend (host/) and the CUDA backend (cuda/, built into its own library)
// call it, with one message.
#pragma once

#include <cstddef>
#include <string>

#include "host/common/error.h"
#include "host/data/image_set.h"
#include "host/model/model_spec.h"
#include "host/model/network_spec.h"

namespace train_gpu {

// What a model takes: images of channels x rows x cols in `classes` classes. The tutorial's is
// tutorial_model_input(); a model built from a description passes its own.
struct ModelInput {
  int channels = 1;
  int rows = 0;
  int cols = 0;
  int classes = 0;
  const char* model = "the model";  // names it in the messages: "the tutorial model"
};

constexpr ModelInput tutorial_model_input() {
  return ModelInput{1, model::kImageSide, model::kImageSide, model::kClasses, "the tutorial model"};
}

// What `spec` takes. Host code only: NetworkSpec::is_tutorial lives in the host library.
inline ModelInput model_input_of(const model::NetworkSpec& spec) {
  return ModelInput{spec.input.channels, spec.input.height, spec.input.width, spec.classes(),
                    spec.is_tutorial() ? "the tutorial model" : "the model"};
}

// "3x32x32".
inline std::string shape_text(int channels, int rows, int cols) {
  return std::to_string(channels) + "x" + std::to_string(rows) + "x" + std::to_string(cols);
}

// Does the data fit the model? Checked by the commands before anything is written, so that a
// dataset of another shape or class count is refused with one line naming both (`data` names the
// set: "cifar10", "idx set 'glyphs'").
inline void check_data_fits_model(const ImageSet& set, const std::string& data, const ModelInput& input) {
  if (set.channels == input.channels && set.rows == input.rows && set.cols == input.cols && set.classes == input.classes) {
    return;
  }
  throw Error(std::string(input.model) + " takes " + shape_text(input.channels, input.rows, input.cols) +
              " images in " + std::to_string(input.classes) + " classes; " + data + " has " +
              shape_text(set.channels, set.rows, set.cols) + " in " + std::to_string(set.classes) +
              ": give a model that fits with --model");
}

// Throws an Error naming the split ("train", "test") and the first fault found.
inline void check_image_set(const ImageSet& set, const char* split, const ModelInput& input) {
  if (set.channels != input.channels || set.rows != input.rows || set.cols != input.cols) {
    throw Error(std::string("attach_data: ") + split + " images are " + shape_text(set.channels, set.rows, set.cols) +
                "; the model expects " + shape_text(input.channels, input.rows, input.cols));
  }
  if (set.classes != input.classes) {
    throw Error(std::string("attach_data: ") + split + " split has " + std::to_string(set.classes) +
                " classes; the model has " + std::to_string(input.classes));
  }
  const std::size_t image_size = std::size_t(input.channels) * std::size_t(input.rows) * std::size_t(input.cols);
  if (set.count < 0 || set.pixels.size() != std::size_t(set.count) * image_size ||
      set.labels.size() != std::size_t(set.count)) {
    throw Error(std::string("attach_data: ") + split + " split holds " + std::to_string(set.pixels.size()) +
                " pixels and " + std::to_string(set.labels.size()) + " labels for " + std::to_string(set.count) +
                " images");
  }
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    if (set.labels[i] >= input.classes) {
      throw Error(std::string("attach_data: ") + split + " label " + std::to_string(i) + " is " +
                  std::to_string(set.labels[i]) + "; labels must be 0.." + std::to_string(input.classes - 1));
    }
  }
}

}  // namespace train_gpu
