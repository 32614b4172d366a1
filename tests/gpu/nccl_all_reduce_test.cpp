// cuda/distributed/nccl_all_reduce.h: the GPU ranks' gradient sum. Here the ranks are threads of
// one process, one per GPU, bootstrapped through an in-process stand-in for the MPI collectives
// (only broadcast is used): a world of one on any GPU (the device check's smoke test), and a
// world of every GPU of the machine where there are two or more.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gpu/cuda_test_fixture.h"

#ifdef TRAIN_GPU_HAVE_NCCL
#include "cuda/distributed/nccl_all_reduce.h"
#endif

namespace train_gpu::cuda::testing {
namespace {

#ifdef TRAIN_GPU_HAVE_NCCL

// What the ranks share: rank 0's broadcast bytes.
struct Broadcasts {
  std::mutex mutex;
  std::condition_variable ready_changed;
  bool ready = false;
  std::vector<unsigned char> bytes;
};

class ThreadCollectives final : public distributed::Collectives {
 public:
  ThreadCollectives(int rank, int size, Broadcasts& shared) : rank_(rank), size_(size), shared_(shared) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return rank_; }
  double timeout_seconds() const override { return 60.0; }
  void broadcast(void* data, std::size_t bytes, const char*) override {
    std::unique_lock<std::mutex> lock(shared_.mutex);
    if (rank_ == 0) {
      shared_.bytes.assign(static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + bytes);
      shared_.ready = true;
      shared_.ready_changed.notify_all();
    } else {
      shared_.ready_changed.wait(lock, [&] { return shared_.ready; });
      std::memcpy(data, shared_.bytes.data(), bytes);
    }
  }
  // NcclAllReduce needs nothing else.
  void sum_gradients(float*, std::size_t) override { unused(); }
  void sum(double*, std::size_t, const char*) override { unused(); }
  void sum(int64_t*, std::size_t, const char*) override { unused(); }
  void min(int64_t*, std::size_t, const char*) override { unused(); }
  std::vector<uint64_t> gather(uint64_t, const char*) override { unused(); }
  [[noreturn]] void abort_job(const std::string& line) override { throw std::runtime_error(line); }

 private:
  [[noreturn]] static void unused() { throw std::logic_error("not used by NcclAllReduce"); }
  int rank_, size_;
  Broadcasts& shared_;
};

// Rank r's gradients: r + 1 + i / 1024 at index i, small integers over 1024 so every partial sum
// is exact in float whatever order NCCL adds them in: the expected sum is exact too.
std::vector<float> gradients_of(int rank, std::size_t count) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = float(rank + 1) + float(i % 1000) / 1024.0f;
  return values;
}

// Every rank's summed arena, after one all-reduce of `count` floats over `ranks` GPUs.
std::vector<std::vector<float>> all_reduce_on_gpus(int ranks, std::size_t count) {
  Broadcasts shared;
  std::vector<std::vector<float>> results(static_cast<std::size_t>(ranks));
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        CUDA_CHECK(cudaSetDevice(rank));
        ThreadCollectives collectives(rank, ranks, shared);
        NcclAllReduce all_reduce(collectives);
        DeviceBuffer<float> gradients = upload(gradients_of(rank, count));
        cudaStream_t stream = nullptr;
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        all_reduce.sum(gradients.data(), count, stream);
        all_reduce.wait(stream, collectives.timeout_seconds());
        CUDA_CHECK(cudaStreamDestroy(stream));
        results[std::size_t(rank)] = download(gradients);
      } catch (const std::exception& error) {
        errors[std::size_t(rank)] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int rank = 0; rank < ranks; ++rank) EXPECT_EQ(errors[std::size_t(rank)], "") << "rank " << rank;
  return results;
}

// The tutorial's arena size: the one fused buffer a step all-reduces.
constexpr std::size_t kArena = 693962;

class NcclAllReduceTest : public CudaTest {};

TEST_F(NcclAllReduceTest, AWorldOfOneLeavesTheGradientsAsTheyAre) {
  const std::vector<std::vector<float>> results = all_reduce_on_gpus(1, kArena);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(bitwise_equal(results[0], gradients_of(0, kArena)));
}

TEST_F(NcclAllReduceTest, EveryGpuOfTheMachineGetsTheSameExactSum) {
  int devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices < 2) GTEST_SKIP() << "this machine has " << devices << " GPU; a sum over ranks needs at least 2";
  const std::vector<std::vector<float>> results = all_reduce_on_gpus(devices, kArena);
  std::vector<float> expected(kArena, 0.0f);
  for (int rank = 0; rank < devices; ++rank) {
    const std::vector<float> mine = gradients_of(rank, kArena);
    for (std::size_t i = 0; i < kArena; ++i) expected[i] += mine[i];
  }
  for (int rank = 0; rank < devices; ++rank) EXPECT_TRUE(bitwise_equal(results[std::size_t(rank)], expected)) << "rank " << rank;
}

#else

TEST(NcclAllReduceTest, NeedsNcclAndMpi) {
  GTEST_SKIP() << "built without NCCL's all-reduce (needs MPI and NCCL at configure time; tools/install-deps.sh)";
}

#endif

}  // namespace
}  // namespace train_gpu::cuda::testing
