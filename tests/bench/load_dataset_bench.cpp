// How long loading and validating MNIST takes: the whole dataset (four .gz files, sha256 of each,
// both splits decoded, the test split on a second thread) and the 60k training images alone, from
// .gz and from the raw file. Run: ./build/tests/load_dataset_bench (files come from the page cache
// after the first iteration, so this is decode + hash + validate, not disk speed).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "host/data/dataset.h"
#include "host/data/idx_reader.h"
#include "host/data/sha256.h"

namespace {

namespace fs = std::filesystem;
const fs::path kMnist = TRAIN_GPU_MNIST_DIR;

void BM_LoadMnistDataset(benchmark::State& state) {
  for (auto _ : state) {
    train_gpu::Dataset dataset = train_gpu::load_dataset(kMnist, train_gpu::DatasetKind::kMnist);
    benchmark::DoNotOptimize(dataset.train.pixels.data());
  }
}
BENCHMARK(BM_LoadMnistDataset)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReadTrainImagesGz(benchmark::State& state) {
  for (auto _ : state) {
    train_gpu::IdxImages images = train_gpu::read_idx_images(kMnist / "train-images-idx3-ubyte.gz");
    benchmark::DoNotOptimize(images.pixels.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 47040016);
}
BENCHMARK(BM_ReadTrainImagesGz)->Unit(benchmark::kMillisecond)->UseRealTime();

// The raw form: a decompressed copy in the temp dir, made once.
void BM_ReadTrainImagesRaw(benchmark::State& state) {
  const fs::path raw = fs::temp_directory_path() / "train_gpu_bench_train-images-idx3-ubyte";
  {
    train_gpu::IdxImages images = train_gpu::read_idx_images(kMnist / "train-images-idx3-ubyte.gz");
    std::FILE* file = std::fopen(raw.c_str(), "wb");
    if (file == nullptr) {
      state.SkipWithError("cannot write the raw copy in the temp dir");
      return;
    }
    const unsigned char header[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    std::fwrite(header, 1, sizeof header, file);
    std::fwrite(images.pixels.data(), 1, images.pixels.size(), file);
    std::fclose(file);
  }
  for (auto _ : state) {
    train_gpu::IdxImages images = train_gpu::read_idx_images(raw);
    benchmark::DoNotOptimize(images.pixels.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 47040016);
  fs::remove(raw);
}
BENCHMARK(BM_ReadTrainImagesRaw)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sha256TrainImagesGz(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(train_gpu::sha256_file(kMnist / "train-images-idx3-ubyte.gz"));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 9912422);
}
BENCHMARK(BM_Sha256TrainImagesGz)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
