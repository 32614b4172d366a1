// The host half of the pinned streaming loader: a producer thread that gathers each batch of
// the epoch's order into one of two staging buffers while the previous batch is copied and
// computed on. Plain C++ with no CUDA in it, so the gathering and the double-buffer protocol
// are tested on the CPU (tests/cuda_host_logic_test.cpp) with the device copy replaced by
// memcpy; pinned_loader.cu supplies page-locked slots and a wait that syncs on the slot's copy.
//
// Protocol, for one consumer thread calling acquire(key) for consecutive batches:
//   acquire(k):  wait until the producer is idle; if slot P already holds k (prefetched), use
//                it, else gather k into P now and wait; then hand out P and start gathering the
//                predicted next batch k+1 into the other slot.
//   producer:    before writing a slot, calls wait_slot_free(slot), which blocks until the
//                device no longer reads that slot's previous contents (its H2D copy finished).
// So a slot is written only by the producer, only after its previous copy is done, and handed
// out only after the producer finished writing it: the two buffers never race.
#pragma once

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "host/common/error.h"

namespace train_gpu::cuda {

// `count` samples at positions [first, first + count) of split `split`'s order (0 train, 1 test).
struct BatchKey {
  int split = 0;
  int64_t first = 0;
  int count = 0;

  friend bool operator==(const BatchKey& a, const BatchKey& b) {
    return a.split == b.split && a.first == b.first && a.count == b.count;
  }
};

// The batch after `key` in a pass of pass_size samples cut into equal batches (the last may be
// short); nullopt after the last one.
inline std::optional<BatchKey> predict_next_batch(const BatchKey& key, int64_t pass_size) {
  const int64_t next_first = key.first + key.count;
  if (next_first >= pass_size) return std::nullopt;
  return BatchKey{key.split, next_first, static_cast<int>(std::min<int64_t>(key.count, pass_size - next_first))};
}

// Row i of pixels_out (image_size bytes) and labels_out[i] = sample order[first + i] of the split.
inline void gather_batch(const uint8_t* pixels, const uint8_t* labels, int64_t image_size, const int32_t* order,
                         int64_t first, int count, uint8_t* pixels_out, uint8_t* labels_out) {
  const std::size_t row_bytes = static_cast<std::size_t>(image_size);
  for (int i = 0; i < count; ++i) {
    const int64_t sample = order[first + i];
    std::memcpy(pixels_out + static_cast<std::size_t>(i) * row_bytes, pixels + sample * image_size, row_bytes);
    labels_out[i] = labels[sample];
  }
}

// Every index must name a sample of the split; a bad order would read out of bounds on the device.
inline void check_order(const std::vector<int32_t>& order, int64_t samples, const char* split_name) {
  if (static_cast<int64_t>(order.size()) > samples) {
    throw Error(std::string("set_order(") + split_name + "): " + std::to_string(order.size()) +
                " indices for a split of " + std::to_string(samples) + " samples");
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i] < 0 || order[i] >= samples) {
      throw Error(std::string("set_order(") + split_name + "): index " + std::to_string(order[i]) + " at position " +
                  std::to_string(i) + " is outside 0.." + std::to_string(samples - 1));
    }
  }
}

class BatchStager {
 public:
  struct SplitData {
    const uint8_t* pixels = nullptr;  // (samples, image_size)
    const uint8_t* labels = nullptr;  // (samples)
    int64_t samples = 0;
    int64_t image_size = 0;
  };
  struct Slot {
    uint8_t* pixels = nullptr;  // room for max_batch images
    uint8_t* labels = nullptr;  // room for max_batch labels
  };
  // Blocks until the device has finished reading `slot` (called on the producer thread).
  using WaitSlotFree = std::function<void(int slot)>;

  BatchStager(std::array<SplitData, 2> splits, std::array<Slot, 2> slots, int max_batch, WaitSlotFree wait_slot_free)
      : splits_(splits), slots_(slots), max_batch_(max_batch), wait_slot_free_(std::move(wait_slot_free)) {
    producer_ = std::thread([this] { run_producer(); });
  }

  ~BatchStager() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_ready_.notify_all();
    producer_.join();
  }

  BatchStager(const BatchStager&) = delete;
  BatchStager& operator=(const BatchStager&) = delete;

  // Replaces a split's order (copied) and forgets any batch staged from the old one.
  void set_order(int split, const std::vector<int32_t>& order) {
    check_split(split);
    check_order(order, splits_[static_cast<std::size_t>(split)].samples, split == 0 ? "train" : "test");
    std::unique_lock<std::mutex> lock(mutex_);
    job_done_.wait(lock, [this] { return !job_.has_value(); });
    orders_[static_cast<std::size_t>(split)] = order;
    for (auto& staged : staged_keys_) {
      if (staged && staged->split == split) staged.reset();
    }
  }

  // The slot holding `key`'s batch, gathered by the producer; see the protocol above. The slot
  // stays valid until the next acquire() or set_order().
  int acquire(const BatchKey& key) {
    check_split(key.split);
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t pass_size = static_cast<int64_t>(orders_[static_cast<std::size_t>(key.split)].size());
    if (key.count <= 0 || key.count > max_batch_ || key.first < 0 || key.first + key.count > pass_size) {
      throw Error("batch [" + std::to_string(key.first) + ", " + std::to_string(key.first + key.count) +
                  ") is outside the order of " + std::to_string(pass_size) + " samples or larger than max_batch " +
                  std::to_string(max_batch_) + "; call set_order first");
    }
    job_done_.wait(lock, [this] { return !job_.has_value(); });
    rethrow_failure();
    const int slot = 1 - last_slot_;  // the slot the last prefetch targeted
    if (staged_keys_[static_cast<std::size_t>(slot)] == key) {
      ++prefetch_hits_;
    } else {
      ++prefetch_misses_;
      job_ = Job{slot, key};
      work_ready_.notify_one();
      job_done_.wait(lock, [this] { return !job_.has_value(); });
      rethrow_failure();
    }
    last_slot_ = slot;
    if (const std::optional<BatchKey> next = predict_next_batch(key, pass_size)) {
      job_ = Job{1 - slot, *next};
      work_ready_.notify_one();
    }
    return slot;
  }

  const Slot& slot(int index) const { return slots_[static_cast<std::size_t>(index)]; }
  int64_t prefetch_hits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return prefetch_hits_;
  }
  int64_t prefetch_misses() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return prefetch_misses_;
  }

 private:
  struct Job {
    int slot;
    BatchKey key;
  };

  static void check_split(int split) {
    if (split != 0 && split != 1) throw Error("batch stager: split must be 0 (train) or 1 (test)");
  }

  // Called with mutex_ held.
  void rethrow_failure() {
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }

  void run_producer() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [this] { return stopping_ || job_.has_value(); });
      if (stopping_) return;
      const Job job = *job_;
      const std::size_t slot = static_cast<std::size_t>(job.slot);
      staged_keys_[slot].reset();
      lock.unlock();
      // orders_ is only replaced by set_order, which waits for the job to finish first.
      std::exception_ptr failure;
      try {
        wait_slot_free_(job.slot);
        const SplitData& data = splits_[static_cast<std::size_t>(job.key.split)];
        gather_batch(data.pixels, data.labels, data.image_size, orders_[static_cast<std::size_t>(job.key.split)].data(),
                     job.key.first, job.key.count, slots_[slot].pixels, slots_[slot].labels);
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      if (failure) {
        failure_ = failure;
      } else {
        staged_keys_[slot] = job.key;
      }
      job_.reset();
      job_done_.notify_all();
    }
  }

  const std::array<SplitData, 2> splits_;
  const std::array<Slot, 2> slots_;
  const int max_batch_;
  const WaitSlotFree wait_slot_free_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // a job was posted, or stopping_
  std::condition_variable job_done_;    // job_ went back to empty
  std::array<std::vector<int32_t>, 2> orders_;
  std::array<std::optional<BatchKey>, 2> staged_keys_;  // what each slot holds, when complete
  std::optional<Job> job_;
  std::exception_ptr failure_;
  int last_slot_ = 1;  // so the first batch goes to slot 0
  int64_t prefetch_hits_ = 0;
  int64_t prefetch_misses_ = 0;
  bool stopping_ = false;
  std::thread producer_;  // last: started after every member it reads is constructed
};

}  // namespace train_gpu::cuda
