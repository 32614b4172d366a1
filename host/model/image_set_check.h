// What every backend checks in attach_data before it trusts a split: 28x28 images, pixel and
// label counts that match the image count, and every label a class index 0..9. A label of 10 or
// more would index past the 10 logits: out-of-bounds reads on the CPU, out-of-bounds reads and
// atomicAdds into the confusion counts on the GPU. Header-only because both the CPU backend
// (host/) and the CUDA backend (cuda/, built into its own library) call it, with one message.
#pragma once

#include <cstddef>
#include <string>

#include "host/common/error.h"
#include "host/data/image_set.h"
#include "host/model/model_spec.h"

namespace train_gpu {

// Throws an Error naming the split ("train", "test") and the first fault found.
inline void check_image_set(const ImageSet& set, const char* split) {
  if (set.rows != model::kImageSide || set.cols != model::kImageSide) {
    throw Error(std::string("attach_data: ") + split + " images are " + std::to_string(set.rows) + "x" +
                std::to_string(set.cols) + "; the model expects 28x28");
  }
  if (set.count < 0 || set.pixels.size() != std::size_t(set.count) * model::kImagePixels ||
      set.labels.size() != std::size_t(set.count)) {
    throw Error(std::string("attach_data: ") + split + " split holds " + std::to_string(set.pixels.size()) +
                " pixels and " + std::to_string(set.labels.size()) + " labels for " + std::to_string(set.count) +
                " images");
  }
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    if (set.labels[i] >= model::kClasses) {
      throw Error(std::string("attach_data: ") + split + " label " + std::to_string(i) + " is " +
                  std::to_string(set.labels[i]) + "; labels must be 0..9");
    }
  }
}

}  // namespace train_gpu
