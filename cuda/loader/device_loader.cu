// The device-resident loader: the whole uint8 dataset lives on the GPU (MNIST: 47 MB of
// pixels), so a batch costs one gather+scale kernel and no PCIe traffic at all. The epoch's
// order is uploaded once per pass (240 KB) and indexed on the device.
#include <cstring>
#include <string>

#include "cuda/check.h"
#include "cuda/handles.h"
#include "cuda/kernels/gather_scale.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/batch_stager.h"
#include "cuda/memory.h"

namespace train_gpu::cuda {
namespace {

class DeviceResidentLoader final : public BatchLoader {
 public:
  DeviceResidentLoader(const ImageSet& train, const ImageSet& test) {
    const ImageSet* sets[2] = {&train, &test};
    for (std::size_t s = 0; s < 2; ++s) {
      const ImageSet& set = *sets[s];
      SplitOnDevice& split = splits_[s];
      split.samples = set.count;
      split.image_size = set.image_size();
      split.pixels = DeviceBuffer<uint8_t>(set.pixels.size(), "the dataset's pixels");
      split.labels = DeviceBuffer<uint8_t>(set.labels.size(), "the dataset's labels");
      split.order = DeviceBuffer<int32_t>(static_cast<std::size_t>(set.count), "a pass order");
      split.order_staging = PinnedBuffer<int32_t>(static_cast<std::size_t>(set.count), "a pass order");
      split.order_copied = make_event();
      // Once, before training: plain synchronous copies from the caller's vectors.
      CUDA_CHECK(cudaMemcpy(split.pixels.data(), set.pixels.data(), set.pixels.size(), cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemcpy(split.labels.data(), set.labels.data(), set.labels.size(), cudaMemcpyHostToDevice));
    }
    // cudaMemcpy from PAGEABLE memory may return once the data is staged, before the DMA into
    // the device buffer finished (CUDA "API synchronization behavior"), and it ran on the legacy
    // default stream, which our non-blocking compute stream does not wait for: drain it here.
    CUDA_CHECK(cudaDeviceSynchronize());
  }

  const char* name() const override { return "device"; }

  void set_order(Split which, const std::vector<int32_t>& order, cudaStream_t stream) override {
    SplitOnDevice& split = splits_[index(which)];
    check_order(order, split.samples, which == Split::kTrain ? "train" : "test");
    // The previous pass's upload may still be reading the staging buffer (it was queued behind
    // that pass's work): wait for it before overwriting. Once per pass, and long done by now.
    CUDA_CHECK(cudaEventSynchronize(split.order_copied.get()));
    if (!order.empty()) std::memcpy(split.order_staging.data(), order.data(), order.size() * sizeof(int32_t));
    // Stream-ordered after every kernel still reading the previous order.
    CUDA_CHECK(cudaMemcpyAsync(split.order.data(), split.order_staging.data(), order.size() * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaEventRecord(split.order_copied.get(), stream));
    split.order_size = static_cast<int64_t>(order.size());
  }

  void load_batch(Split which, int64_t first, int count, float* images, uint8_t* labels,
                  cudaStream_t stream) override {
    check_batch(which, first, count);
    const SplitOnDevice& split = splits_[index(which)];
    launch_gather_scale(split.pixels.data(), split.labels.data(), split.order.data(), first, count,
                        static_cast<int>(split.image_size), images, labels, stream);
  }

  bool gathers_at_device_cursor() const override { return true; }

  void check_batch(Split which, int64_t first, int count) const override {
    const SplitOnDevice& split = splits_[index(which)];
    if (count <= 0 || first < 0 || first + count > split.order_size) {
      throw Error("batch [" + std::to_string(first) + ", " + std::to_string(first + count) +
                  ") is outside the order of " + std::to_string(split.order_size) + " samples; call set_order first");
    }
  }

  void load_batch_at_cursor(Split which, const int64_t* first, int count, float* images, uint8_t* labels,
                            cudaStream_t stream) override {
    const SplitOnDevice& split = splits_[index(which)];
    launch_gather_scale_at_cursor(split.pixels.data(), split.labels.data(), split.order.data(), first, count,
                                  static_cast<int>(split.image_size), images, labels, stream);
  }

  void load_image(Split which, int64_t sample, float* image, uint8_t* label, cudaStream_t stream) override {
    const SplitOnDevice& split = splits_[index(which)];
    if (sample < 0 || sample >= split.samples) {
      throw Error("image " + std::to_string(sample) + " is outside 0.." + std::to_string(split.samples - 1));
    }
    launch_gather_scale(split.pixels.data(), split.labels.data(), nullptr, sample, 1,
                        static_cast<int>(split.image_size), image, label, stream);
  }

 private:
  struct SplitOnDevice {
    int64_t samples = 0;
    int64_t image_size = 0;
    int64_t order_size = 0;
    DeviceBuffer<uint8_t> pixels;        // (samples, image_size)
    DeviceBuffer<uint8_t> labels;        // (samples)
    DeviceBuffer<int32_t> order;         // the current pass's order
    PinnedBuffer<int32_t> order_staging; // host side of the async order upload
    Event order_copied;
  };

  static std::size_t index(Split split) { return split == Split::kTrain ? 0 : 1; }

  SplitOnDevice splits_[2];
};

}  // namespace

std::unique_ptr<BatchLoader> make_device_loader(const ImageSet& train, const ImageSet& test) {
  return std::make_unique<DeviceResidentLoader>(train, test);
}

}  // namespace train_gpu::cuda
