// The pinned streaming loader: the uint8 dataset stays in page-locked host memory and each batch
// crosses PCIe as it is needed, overlapped with compute:
//
//   producer thread      gather batch k+1 into host slot s'      (BatchStager, batch_stager.h)
//   copy stream          wait consumed[s]; H2D slot s -> device slot s; record copied[s]
//   compute stream       wait copied[s]; scale device slot s -> floats; record consumed[s]; step k
//
// The H2D copy of batch k is enqueued when train_step k is called, which (the host never waiting
// for the device) is while the GPU still runs step k-1: copy and compute overlap, and the
// gather of k+1 overlaps both. Two events per slot keep the buffers safe:
//   copied[s]   the H2D copy out of host slot s finished -> the producer may rewrite host slot s
//               (it waits on this event, on its own thread);
//   consumed[s] the scale kernel finished reading device slot s -> the next copy may overwrite it.
// Scaling uint8 -> float happens on the device, so only 1 byte per pixel crosses the bus.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "cuda/check.h"
#include "cuda/handles.h"
#include "cuda/kernels/gather_scale.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/batch_stager.h"
#include "cuda/memory.h"
#include "cuda/nvtx.h"

namespace train_gpu::cuda {
namespace {

class PinnedStreamingLoader final : public BatchLoader {
 public:
  PinnedStreamingLoader(const ImageSet& train, const ImageSet& test, int max_batch, int device)
      : device_(device), copy_stream_(make_stream()) {
    const ImageSet* sets[2] = {&train, &test};
    std::array<BatchStager::SplitData, 2> split_data;
    for (std::size_t s = 0; s < 2; ++s) {
      const ImageSet& set = *sets[s];
      image_size_ = set.image_size();
      samples_[s] = set.count;
      host_pixels_[s] = PinnedBuffer<uint8_t>(set.pixels.size(), "the dataset's pixels");
      host_labels_[s] = PinnedBuffer<uint8_t>(set.labels.size(), "the dataset's labels");
      std::copy(set.pixels.begin(), set.pixels.end(), host_pixels_[s].data());
      std::copy(set.labels.begin(), set.labels.end(), host_labels_[s].data());
      split_data[s] = BatchStager::SplitData{host_pixels_[s].data(), host_labels_[s].data(), set.count, image_size_};
    }
    const std::size_t batch_pixels = static_cast<std::size_t>(max_batch) * static_cast<std::size_t>(image_size_);
    std::array<BatchStager::Slot, 2> slots;
    for (std::size_t s = 0; s < 2; ++s) {
      staging_pixels_[s] = PinnedBuffer<uint8_t>(batch_pixels, "a staging batch");
      staging_labels_[s] = PinnedBuffer<uint8_t>(static_cast<std::size_t>(max_batch), "a staging batch");
      device_pixels_[s] = DeviceBuffer<uint8_t>(batch_pixels, "a staging batch");
      device_labels_[s] = DeviceBuffer<uint8_t>(static_cast<std::size_t>(max_batch), "a staging batch");
      copied_[s] = make_event();
      consumed_[s] = make_event();
      slots[s] = BatchStager::Slot{staging_pixels_[s].data(), staging_labels_[s].data()};
    }
    single_pixels_ = DeviceBuffer<uint8_t>(static_cast<std::size_t>(image_size_), "one image");
    single_label_ = DeviceBuffer<uint8_t>(1, "one label");
    // Constructed last: its producer thread uses the events and slots above.
    stager_ = std::make_unique<BatchStager>(split_data, slots, max_batch, [this](int slot) {
      // The producer thread's CUDA calls must target our device; cudaSetDevice is per thread.
      CUDA_CHECK(cudaSetDevice(device_));
      CUDA_CHECK(cudaEventSynchronize(copied_[static_cast<std::size_t>(slot)].get()));
    });
  }

  ~PinnedStreamingLoader() override {
    stager_.reset();  // join the producer before the buffers and events it uses go away
    // The copy stream may still read host slots that are about to be freed.
    const cudaError_t status = cudaStreamSynchronize(copy_stream_.get());
    if (status != cudaSuccess) {
      std::fprintf(stderr, "train_gpu: warning: draining the copy stream failed: %s\n", cudaGetErrorString(status));
    }
  }

  const char* name() const override { return "pinned"; }

  void set_order(Split which, const std::vector<int32_t>& order, cudaStream_t) override {
    stager_->set_order(index(which), order);
  }

  void load_batch(Split which, int64_t first, int count, float* images, uint8_t* labels,
                  cudaStream_t stream) override {
    ScopedRange range("load_batch (pinned)");
    const int slot_index = stager_->acquire(BatchKey{index(which), first, count});
    const std::size_t slot = static_cast<std::size_t>(slot_index);
    const std::size_t pixel_bytes = static_cast<std::size_t>(count) * static_cast<std::size_t>(image_size_);
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_.get(), consumed_[slot].get(), 0));
    CUDA_CHECK(cudaMemcpyAsync(device_pixels_[slot].data(), staging_pixels_[slot].data(), pixel_bytes,
                               cudaMemcpyHostToDevice, copy_stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(device_labels_[slot].data(), staging_labels_[slot].data(),
                               static_cast<std::size_t>(count), cudaMemcpyHostToDevice, copy_stream_.get()));
    CUDA_CHECK(cudaEventRecord(copied_[slot].get(), copy_stream_.get()));
    CUDA_CHECK(cudaStreamWaitEvent(stream, copied_[slot].get(), 0));
    launch_gather_scale(device_pixels_[slot].data(), device_labels_[slot].data(), nullptr, 0, count,
                        static_cast<int>(image_size_), images, labels, stream);
    CUDA_CHECK(cudaEventRecord(consumed_[slot].get(), stream));
  }

  void load_image(Split which, int64_t sample, float* image, uint8_t* label, cudaStream_t stream) override {
    const std::size_t s = static_cast<std::size_t>(index(which));
    if (sample < 0 || sample >= samples_[s]) {
      throw Error("image " + std::to_string(sample) + " is outside 0.." + std::to_string(samples_[s] - 1));
    }
    // Straight from the pinned dataset, which is never rewritten, so no staging is needed.
    CUDA_CHECK(cudaMemcpyAsync(single_pixels_.data(), host_pixels_[s].data() + sample * image_size_,
                               static_cast<std::size_t>(image_size_), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(single_label_.data(), host_labels_[s].data() + sample, 1, cudaMemcpyHostToDevice,
                               stream));
    launch_gather_scale(single_pixels_.data(), single_label_.data(), nullptr, 0, 1, static_cast<int>(image_size_),
                        image, label, stream);
  }

 private:
  static int index(Split split) { return split == Split::kTrain ? 0 : 1; }

  int device_;
  int64_t image_size_ = 0;
  std::array<int64_t, 2> samples_{};
  Stream copy_stream_;
  std::array<PinnedBuffer<uint8_t>, 2> host_pixels_;     // the dataset, per split
  std::array<PinnedBuffer<uint8_t>, 2> host_labels_;
  std::array<PinnedBuffer<uint8_t>, 2> staging_pixels_;  // per slot: (max_batch, 784)
  std::array<PinnedBuffer<uint8_t>, 2> staging_labels_;
  std::array<DeviceBuffer<uint8_t>, 2> device_pixels_;
  std::array<DeviceBuffer<uint8_t>, 2> device_labels_;
  std::array<Event, 2> copied_;
  std::array<Event, 2> consumed_;
  DeviceBuffer<uint8_t> single_pixels_;
  DeviceBuffer<uint8_t> single_label_;
  std::unique_ptr<BatchStager> stager_;
};

}  // namespace

std::unique_ptr<BatchLoader> make_pinned_loader(const ImageSet& train, const ImageSet& test, int max_batch,
                                                int device) {
  return std::make_unique<PinnedStreamingLoader>(train, test, max_batch, device);
}

}  // namespace train_gpu::cuda
