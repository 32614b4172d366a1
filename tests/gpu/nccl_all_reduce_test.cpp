// cuda/distributed/nccl_all_reduce.h: the GPU ranks' gradient sum. Here the ranks are threads of
// one process, one per GPU, bootstrapped through an in-process stand-in for the MPI collectives
// (gpu/thread_collectives.h): a world of one on any GPU (the device check's smoke test), and a
// world of every GPU of the machine where there are two or more.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "gpu/cuda_test_fixture.h"
#include "gpu/thread_collectives.h"

#ifdef TRAIN_GPU_HAVE_NCCL
#include "cuda/distributed/nccl_all_reduce.h"
#endif

namespace train_gpu::cuda::testing {
namespace {

#ifdef TRAIN_GPU_HAVE_NCCL

// Rank r's gradients: r + 1 + i / 1024 at index i, small integers over 1024 so every partial sum
// is exact in float whatever order NCCL adds them in: the expected sum is exact too.
std::vector<float> gradients_of(int rank, std::size_t count) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = float(rank + 1) + float(i % 1000) / 1024.0f;
  return values;
}

// Every rank's summed arena, after one all-reduce of `count` floats over `ranks` GPUs.
std::vector<std::vector<float>> all_reduce_on_gpus(int ranks, std::size_t count) {
  SharedWorld shared;
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
