// --loader auto|device|pinned, resolved against the device's free memory. Plain C++ (tested on
// the CPU).
#pragma once

#include <cstddef>
#include <string>

#include "host/common/error.h"
#include "host/data/image_set.h"

namespace train_gpu::cuda {

enum class LoaderKind { kDevice, kPinned };

inline const char* loader_name(LoaderKind kind) { return kind == LoaderKind::kDevice ? "device" : "pinned"; }

// What the device-resident loader keeps on the device: both splits' pixels and labels and an
// int32 order per sample.
inline std::size_t resident_dataset_bytes(const ImageSet& train, const ImageSet& test) {
  return train.pixels.size() + train.labels.size() + test.pixels.size() + test.labels.size() +
         (static_cast<std::size_t>(train.count) + static_cast<std::size_t>(test.count)) * sizeof(int32_t);
}

// "device" and "pinned" are taken as given; "auto" keeps the dataset resident on the device when
// it needs at most half of the free device memory, the other half being headroom for the
// activations, workspaces and cuBLAS (MNIST: 55 MB against ~140 GB on an H200). Anything else
// is an Error listing the choices.
inline LoaderKind choose_loader(const std::string& option, std::size_t dataset_bytes, std::size_t free_device_bytes) {
  if (option == "device") return LoaderKind::kDevice;
  if (option == "pinned") return LoaderKind::kPinned;
  if (option == "auto" || option.empty()) {
    return dataset_bytes <= free_device_bytes / 2 ? LoaderKind::kDevice : LoaderKind::kPinned;
  }
  throw Error("--loader '" + option + "': expected auto, device or pinned");
}

}  // namespace train_gpu::cuda
