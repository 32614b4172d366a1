// Where a step's input batch comes from. Two implementations:
// - device-resident (device_loader.cu): the uint8 dataset uploaded once; each batch is one
//   gather+scale kernel indexed by the epoch's order, which lives on the device too.
// - pinned streaming (pinned_loader.cu): the dataset in page-locked host memory; a producer
//   thread gathers each batch into a pinned staging buffer, a copy stream uploads it while the
//   previous step computes, and the same kernel scales it. For datasets that do not fit on the
//   device, and as the classic input pipeline to compare against.
// Both write float images in [0,1] and uint8 labels on the compute stream, without host sync.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "host/data/image_set.h"
#include "host/model/backend.h"

namespace train_gpu::cuda {

class BatchLoader {
 public:
  virtual ~BatchLoader() = default;

  virtual const char* name() const = 0;  // "device" | "pinned"

  // The split's sample order for the coming pass (copied). Asynchronous on `stream`.
  virtual void set_order(Split split, const std::vector<int32_t>& order, cudaStream_t stream) = 0;

  // images (count, 784) float and labels (count) of order[first, first + count), enqueued on
  // `stream`. count <= max_batch. Overwrites both. No host sync.
  virtual void load_batch(Split split, int64_t first, int count, float* images, uint8_t* labels,
                          cudaStream_t stream) = 0;

  // The one image `index` of the split (ignoring the order), as a batch of one.
  virtual void load_image(Split split, int64_t index, float* image, uint8_t* label, cudaStream_t stream) = 0;

  // A captured CUDA graph replays its launch arguments unchanged, so a graph-launched step reads
  // its batch position from device memory (cuda/math/step_counters.h). Loaders that can gather
  // that way (the device-resident one) say so and implement the two calls below; for the others
  // the backend launches eagerly.
  virtual bool gathers_at_device_cursor() const { return false; }

  // Throws what load_batch would throw for this batch; checked on the host when the step is
  // planned, since the cursor is only read on the device.
  virtual void check_batch(Split split, int64_t first, int count) const;

  // load_batch of order[*first, *first + count), *first read when the gather runs.
  virtual void load_batch_at_cursor(Split split, const int64_t* first, int count, float* images, uint8_t* labels,
                                    cudaStream_t stream);
};

// Uploads both splits (synchronously, once). The ImageSets need not outlive the loader.
std::unique_ptr<BatchLoader> make_device_loader(const ImageSet& train, const ImageSet& test);

// Copies both splits into pinned host memory and starts the producer thread.
std::unique_ptr<BatchLoader> make_pinned_loader(const ImageSet& train, const ImageSet& test, int max_batch,
                                                int device);

}  // namespace train_gpu::cuda
