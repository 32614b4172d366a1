// CPU tests of the CUDA backend's host-side logic, which is plain C++ on purpose so it is tested
// on machines without a GPU: the dense layers' column-major GEMM mapping (run through a
// reference GEMM), cuDNN algorithm choice (requested, deterministic, named), the math-mode
// wording, loader and kernel-set choice, the pinned loader's batch gathering and double-buffer
// protocol (the H2D copy replaced by memcpy), the device totals' conversion, and the pooling math
// the kernels share (plain and fused with bias + ReLU).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cuda/kernel_choice.h"
#include "cuda/kernels/device_totals.h"
#include "cuda/layers/algorithm_choice.h"
#include "cuda/layers/gemm_mapping.h"
#include "cuda/loader/batch_stager.h"
#include "cuda/loader/loader_choice.h"
#include "cuda/math_mode.h"
#include "cuda/math/pool_math.h"
#include "host/common/error.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// GEMM mapping: run each ColumnMajorGemm through a naive column-major SGEMM (what cuBLAS
// computes) on small-integer matrices and compare with the row-major product it is meant to be.
// Integers below 2^24 in every partial sum make both sides exact, so equality is required.

// C = op(A) op(B), all column-major, as cublasSgemm with alpha = 1, beta = 0.
void reference_column_major_gemm(const ColumnMajorGemm& g, const float* a, const float* b, float* c) {
  for (int col = 0; col < g.n; ++col) {
    for (int row = 0; row < g.m; ++row) {
      double sum = 0;
      for (int p = 0; p < g.k; ++p) {
        const float a_value = g.transpose_a ? a[p + row * g.lda] : a[row + p * g.lda];
        const float b_value = g.transpose_b ? b[col + p * g.ldb] : b[p + col * g.ldb];
        sum += double(a_value) * double(b_value);
      }
      c[row + col * g.ldc] = static_cast<float>(sum);
    }
  }
}

std::vector<float> small_integers(std::size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-4, 4);
  std::vector<float> out(size);
  for (float& x : out) x = static_cast<float>(value(rng));
  return out;
}

constexpr int kCount = 3;
constexpr int kIn = 5;
constexpr int kOut = 4;

TEST(GemmMapping, ForwardComputesInputTimesWeightTransposed) {
  const std::vector<float> input = small_integers(kCount * kIn, 1);   // (count, in)
  const std::vector<float> weight = small_integers(kOut * kIn, 2);    // (out, in)
  std::vector<float> output(kCount * kOut, std::nanf(""));
  reference_column_major_gemm(dense_forward_gemm(kCount, kIn, kOut), weight.data(), input.data(), output.data());
  for (int n = 0; n < kCount; ++n) {
    for (int o = 0; o < kOut; ++o) {
      float expected = 0;
      for (int i = 0; i < kIn; ++i) expected += input[n * kIn + i] * weight[o * kIn + i];
      EXPECT_EQ(output[n * kOut + o], expected) << "Y[" << n << "][" << o << "]";
    }
  }
}

TEST(GemmMapping, BackwardWeightComputesDoutputTransposedTimesInput) {
  const std::vector<float> input = small_integers(kCount * kIn, 3);    // (count, in)
  const std::vector<float> doutput = small_integers(kCount * kOut, 4); // (count, out)
  std::vector<float> weight_grad(kOut * kIn, std::nanf(""));
  reference_column_major_gemm(dense_backward_weight_gemm(kCount, kIn, kOut), input.data(), doutput.data(),
                              weight_grad.data());
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) {
      float expected = 0;
      for (int n = 0; n < kCount; ++n) expected += doutput[n * kOut + o] * input[n * kIn + i];
      EXPECT_EQ(weight_grad[o * kIn + i], expected) << "dW[" << o << "][" << i << "]";
    }
  }
}

TEST(GemmMapping, BackwardInputComputesDoutputTimesWeight) {
  const std::vector<float> weight = small_integers(kOut * kIn, 5);     // (out, in)
  const std::vector<float> doutput = small_integers(kCount * kOut, 6); // (count, out)
  std::vector<float> dinput(kCount * kIn, std::nanf(""));
  reference_column_major_gemm(dense_backward_input_gemm(kCount, kIn, kOut), weight.data(), doutput.data(),
                              dinput.data());
  for (int n = 0; n < kCount; ++n) {
    for (int i = 0; i < kIn; ++i) {
      float expected = 0;
      for (int o = 0; o < kOut; ++o) expected += doutput[n * kOut + o] * weight[o * kIn + i];
      EXPECT_EQ(dinput[n * kIn + i], expected) << "dX[" << n << "][" << i << "]";
    }
  }
}

TEST(GemmMapping, TheModelsLayersHaveValidLeadingDimensions) {
  // cuBLAS rejects lda < rows of the stored (non-transposed) A; check for both dense layers.
  for (auto [in, out] : {std::pair{5408, 128}, std::pair{128, 10}}) {
    for (const ColumnMajorGemm& g : {dense_forward_gemm(100, in, out), dense_backward_weight_gemm(100, in, out),
                                     dense_backward_input_gemm(100, in, out)}) {
      EXPECT_GE(g.lda, g.transpose_a ? g.k : g.m);
      EXPECT_GE(g.ldb, g.transpose_b ? g.n : g.k);
      EXPECT_GE(g.ldc, g.m);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cuDNN algorithm choice.

AlgorithmCandidate candidate(int algorithm, bool succeeded, bool deterministic, bool tensor_core,
                             std::size_t workspace) {
  AlgorithmCandidate c;
  c.algorithm = algorithm;
  c.succeeded = succeeded;
  c.deterministic = deterministic;
  c.tensor_core_math = tensor_core;
  c.workspace_bytes = workspace;
  return c;
}

TEST(AlgorithmChoice, TakesTheFirstCandidateMeetingEveryRequirement) {
  const std::vector<AlgorithmCandidate> candidates = {
      candidate(7, false, true, false, 0),       // failed to run
      candidate(6, true, true, true, 0),         // tensor cores (TF32)
      candidate(5, true, false, false, 0),       // nondeterministic
      candidate(4, true, true, false, 1 << 30),  // workspace too large
      candidate(1, true, true, false, 1024),     // fits everything
      candidate(0, true, true, false, 0),
  };
  AlgorithmRequirements strict;
  strict.deterministic_only = true;
  strict.allow_tensor_cores = false;
  strict.max_workspace_bytes = 1 << 20;
  EXPECT_EQ(choose_algorithm(candidates, strict), 4);

  AlgorithmRequirements any_determinism = strict;
  any_determinism.deterministic_only = false;
  EXPECT_EQ(choose_algorithm(candidates, any_determinism), 2);

  AlgorithmRequirements tf32 = strict;
  tf32.allow_tensor_cores = true;
  EXPECT_EQ(choose_algorithm(candidates, tf32), 1);

  AlgorithmRequirements big_workspace = strict;
  big_workspace.max_workspace_bytes = std::size_t{1} << 31;
  EXPECT_EQ(choose_algorithm(candidates, big_workspace), 3);
}

TEST(AlgorithmChoice, ReportsNoneAndSaysWhatWasOffered) {
  const std::vector<AlgorithmCandidate> candidates = {candidate(3, true, false, false, 0),
                                                      candidate(2, false, true, false, 0)};
  AlgorithmRequirements needs;
  needs.deterministic_only = true;
  needs.max_workspace_bytes = 1 << 20;
  EXPECT_EQ(choose_algorithm(candidates, needs), -1);
  EXPECT_EQ(choose_algorithm({}, needs), -1);
  const std::string message = describe_no_algorithm("forward", candidates, needs);
  EXPECT_NE(message.find("deterministic"), std::string::npos) << message;
  EXPECT_NE(message.find("algo 3"), std::string::npos) << message;
  EXPECT_NE(message.find("algo 2 failed"), std::string::npos) << message;
  EXPECT_NE(message.find("--deterministic"), std::string::npos) << message;
}

TEST(AlgorithmChoice, ARequestedAlgorithmWinsOnlyWhenItMeetsTheRequirements) {
  const std::vector<AlgorithmCandidate> candidates = {
      candidate(1, true, true, false, 0),        // the heuristics' favourite
      candidate(0, true, false, false, 0),       // nondeterministic (backward-filter ALGO_0)
      candidate(5, true, true, false, 1 << 30),  // too much workspace
      candidate(3, false, true, false, 0),       // not supported here
      candidate(2, true, true, false, 512),
  };
  AlgorithmRequirements deterministic;
  deterministic.deterministic_only = true;
  deterministic.max_workspace_bytes = 1 << 20;
  EXPECT_EQ(choose_algorithm(candidates, deterministic, 2), 4);   // honored, though not first
  EXPECT_EQ(choose_algorithm(candidates, deterministic, 0), 0);   // nondeterministic: the first that qualifies
  EXPECT_EQ(choose_algorithm(candidates, deterministic, 5), 0);   // over the workspace cap
  EXPECT_EQ(choose_algorithm(candidates, deterministic, 3), 0);   // unsupported
  EXPECT_EQ(choose_algorithm(candidates, deterministic, 6), 0);   // not offered at all
  EXPECT_EQ(choose_algorithm(candidates, deterministic, -1), 0);  // none requested
  AlgorithmRequirements any = deterministic;
  any.deterministic_only = false;
  EXPECT_EQ(choose_algorithm(candidates, any, 0), 1);  // allowed without --deterministic
  EXPECT_TRUE(offers(candidates, 3));
  EXPECT_FALSE(offers(candidates, 6));
}

TEST(AlgorithmChoice, DeterministicOrRequestedChoicesAreNotTimed) {
  // Timing (cudnnFind) can rank algorithms differently in two processes; the heuristics cannot.
  EXPECT_EQ(algorithm_search(false, false), AlgorithmSearch::kBenchmark);
  EXPECT_EQ(algorithm_search(true, false), AlgorithmSearch::kHeuristic);
  EXPECT_EQ(algorithm_search(false, true), AlgorithmSearch::kHeuristic);
  EXPECT_EQ(algorithm_search(true, true), AlgorithmSearch::kHeuristic);
}

TEST(AlgorithmChoice, DocumentedDeterminismOfBackwardFilterAlgorithms) {
  // cudnn_ops.h marks ALGO_0 and ALGO_3 "non-deterministic" (atomic adds); the rest are not.
  for (int algorithm = 0; algorithm < 7; ++algorithm) {
    EXPECT_EQ(documented_deterministic_backward_filter(algorithm), algorithm != 0 && algorithm != 3) << algorithm;
  }
}

TEST(AlgorithmChoice, SaysHowTheAlgorithmsWereChosen) {
  ConvolutionAlgorithms none;
  ConvolutionAlgorithms requested;
  requested.forward = 1;
  requested.backward_filter = 1;
  ConvolutionAlgorithms ran = requested;
  EXPECT_EQ(how_chosen(AlgorithmSearch::kBenchmark, none, ran), "benchmarked (cudnnFind)");
  EXPECT_EQ(how_chosen(AlgorithmSearch::kHeuristic, none, ran), "heuristic (cudnnGet*_v7, untimed)");
  EXPECT_EQ(how_chosen(AlgorithmSearch::kHeuristic, requested, ran), "as requested");
  ran.backward_filter = 5;
  EXPECT_EQ(how_chosen(AlgorithmSearch::kHeuristic, requested, ran),
            "heuristic (cudnnGet*_v7, untimed); the requested forward IMPLICIT_PRECOMP_GEMM (1), backward-filter "
            "ALGO_1 (1) is not usable here");
}

TEST(AlgorithmChoice, NamesFollowCudnnsEnumOrder) {
  // cuda/layers/conv.cu static_asserts the same values against cudnn_ops.h.
  EXPECT_STREQ(forward_algorithm_name(0), "IMPLICIT_GEMM");
  EXPECT_STREQ(forward_algorithm_name(1), "IMPLICIT_PRECOMP_GEMM");
  EXPECT_STREQ(forward_algorithm_name(7), "WINOGRAD_NONFUSED");
  EXPECT_STREQ(forward_algorithm_name(8), "unknown");
  EXPECT_STREQ(forward_algorithm_name(-1), "unknown");
  EXPECT_STREQ(backward_filter_algorithm_name(1), "ALGO_1");
  EXPECT_STREQ(backward_filter_algorithm_name(3), "ALGO_3");
  EXPECT_STREQ(backward_filter_algorithm_name(6), "FFT_TILING");
  EXPECT_STREQ(backward_filter_algorithm_name(7), "unknown");
  ConvolutionAlgorithms pair;
  EXPECT_EQ(describe(pair), "none");
  pair.forward = 6;
  pair.backward_filter = 2;
  EXPECT_EQ(describe(pair), "forward WINOGRAD (6), backward-filter FFT (2)");
}

// ---------------------------------------------------------------------------------------------
// Math modes: the device line says FP32 only when no library may use TF32, and names each that may.

TEST(MathModes, DescribeFp32OnlyWhenNothingMayUseTf32) {
  EXPECT_EQ(describe_math(MathModes{}), "FP32 math (no TF32)");
  MathModes cublas_only;
  cublas_only.cublas_tf32 = true;
  EXPECT_EQ(describe_math(cublas_only), "TF32 allowed in cuBLAS");
  MathModes conv_only;
  conv_only.conv_backward_tensor = true;
  EXPECT_EQ(describe_math(conv_only), "TF32 allowed in conv backward-filter");
  const MathModes all{true, true, true};
  EXPECT_EQ(describe_math(all), "TF32 allowed in cuBLAS, conv forward, conv backward-filter");
}

// ---------------------------------------------------------------------------------------------
// Loader choice.

TEST(LoaderChoice, ExplicitChoicesAreTakenAsGiven) {
  EXPECT_EQ(choose_loader("device", 100, 0), LoaderKind::kDevice);
  EXPECT_EQ(choose_loader("pinned", 100, std::size_t{1} << 40), LoaderKind::kPinned);
  EXPECT_STREQ(loader_name(LoaderKind::kDevice), "device");
  EXPECT_STREQ(loader_name(LoaderKind::kPinned), "pinned");
}

TEST(LoaderChoice, AutoKeepsTheDatasetOnTheDeviceWhenItTakesAtMostHalfTheFreeMemory) {
  EXPECT_EQ(choose_loader("auto", 50, 100), LoaderKind::kDevice);
  EXPECT_EQ(choose_loader("auto", 51, 100), LoaderKind::kPinned);
  EXPECT_EQ(choose_loader("", 55'000'000, 140'000'000'000), LoaderKind::kDevice);
}

TEST(LoaderChoice, UnknownNamesAreAnErrorListingTheChoices) {
  try {
    choose_loader("gpu", 1, 1);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("auto, device or pinned"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Batch gathering and the pinned loader's double buffer.

constexpr int64_t kImageSize = 6;  // small "images" whose bytes encode their sample index

struct FakeSplit {
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
  int64_t samples;

  explicit FakeSplit(int64_t count, uint8_t salt) : samples(count) {
    pixels.resize(static_cast<std::size_t>(count * kImageSize));
    labels.resize(static_cast<std::size_t>(count));
    for (int64_t s = 0; s < count; ++s) {
      for (int64_t p = 0; p < kImageSize; ++p) {
        pixels[static_cast<std::size_t>(s * kImageSize + p)] = static_cast<uint8_t>((s * 7 + p + salt) & 0xff);
      }
      labels[static_cast<std::size_t>(s)] = static_cast<uint8_t>((s + salt) % 10);
    }
  }
  BatchStager::SplitData data() const { return {pixels.data(), labels.data(), samples, kImageSize}; }
};

std::vector<int32_t> shuffled_order(int64_t count, uint32_t seed) {
  std::vector<int32_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

TEST(BatchGather, CopiesTheOrderedSamplesRowByRow) {
  const FakeSplit split(20, 3);
  const std::vector<int32_t> order = shuffled_order(20, 9);
  std::vector<uint8_t> pixels(5 * kImageSize, 0xEE);
  std::vector<uint8_t> labels(5, 0xEE);
  gather_batch(split.pixels.data(), split.labels.data(), kImageSize, order.data(), 10, 5, pixels.data(),
               labels.data());
  for (int i = 0; i < 5; ++i) {
    const int32_t sample = order[static_cast<std::size_t>(10 + i)];
    EXPECT_EQ(labels[static_cast<std::size_t>(i)], split.labels[static_cast<std::size_t>(sample)]);
    EXPECT_TRUE(std::equal(pixels.begin() + i * kImageSize, pixels.begin() + (i + 1) * kImageSize,
                           split.pixels.begin() + sample * kImageSize));
  }
}

TEST(BatchGather, PredictsConsecutiveBatchesWithAShortLastOne) {
  BatchKey key{0, 0, 4};
  std::vector<BatchKey> seen = {key};
  while (const std::optional<BatchKey> next = predict_next_batch(seen.back(), 10)) seen.push_back(*next);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], (BatchKey{0, 4, 4}));
  EXPECT_EQ(seen[2], (BatchKey{0, 8, 2}));
}

TEST(BatchGather, RejectsOrdersThatWouldReadOutOfBounds) {
  EXPECT_NO_THROW(check_order({0, 4, 2}, 5, "train"));
  EXPECT_THROW(check_order({0, 5}, 5, "train"), Error);
  EXPECT_THROW(check_order({-1}, 5, "test"), Error);
  EXPECT_THROW(check_order(std::vector<int32_t>(6, 0), 5, "train"), Error);
}

// A stager over std::vector slots whose "device copy" is a memcpy, as the pinned loader's
// cudaMemcpyAsync would be; the wait hook records which slot the producer is about to rewrite.
struct StagerRig {
  static constexpr int kMaxBatch = 8;
  FakeSplit train{50, 1};
  FakeSplit test{13, 2};
  std::vector<uint8_t> slot_pixels[2];
  std::vector<uint8_t> slot_labels[2];
  std::vector<int> waited_slots;
  std::mutex waited_mutex;
  std::atomic<bool> fail_next_wait{false};
  std::unique_ptr<BatchStager> stager;

  StagerRig() {
    std::array<BatchStager::Slot, 2> slots;
    for (int s = 0; s < 2; ++s) {
      slot_pixels[s].assign(kMaxBatch * kImageSize, 0);
      slot_labels[s].assign(kMaxBatch, 0);
      slots[static_cast<std::size_t>(s)] = {slot_pixels[s].data(), slot_labels[s].data()};
    }
    stager = std::make_unique<BatchStager>(std::array<BatchStager::SplitData, 2>{train.data(), test.data()}, slots,
                                           kMaxBatch, [this](int slot) {
                                             if (fail_next_wait.exchange(false)) throw Error("simulated copy failure");
                                             std::lock_guard<std::mutex> lock(waited_mutex);
                                             waited_slots.push_back(slot);
                                           });
  }

  // acquire + the "device copy": what the GPU would receive for this batch.
  std::pair<std::vector<uint8_t>, std::vector<uint8_t>> load(int split, int64_t first, int count) {
    const int slot = stager->acquire(BatchKey{split, first, count});
    std::vector<uint8_t> pixels(static_cast<std::size_t>(count * kImageSize));
    std::vector<uint8_t> labels(static_cast<std::size_t>(count));
    std::memcpy(pixels.data(), stager->slot(slot).pixels, pixels.size());
    std::memcpy(labels.data(), stager->slot(slot).labels, labels.size());
    return {pixels, labels};
  }
};

void expect_batch(const StagerRig& rig, const FakeSplit& split, const std::vector<int32_t>& order, int64_t first,
                  const std::pair<std::vector<uint8_t>, std::vector<uint8_t>>& got) {
  const int count = static_cast<int>(got.second.size());
  std::vector<uint8_t> pixels(got.first.size());
  std::vector<uint8_t> labels(got.second.size());
  gather_batch(split.pixels.data(), split.labels.data(), kImageSize, order.data(), first, count, pixels.data(),
               labels.data());
  EXPECT_EQ(got.first, pixels) << "batch at " << first;
  EXPECT_EQ(got.second, labels) << "batch at " << first;
  (void)rig;
}

TEST(BatchStager, AnEpochOfConsecutiveBatchesIsPrefetchedAfterTheFirst) {
  StagerRig rig;
  const std::vector<int32_t> order = shuffled_order(50, 4);
  rig.stager->set_order(0, order);
  int batches = 0;
  for (int64_t first = 0; first < 50; first += StagerRig::kMaxBatch) {
    const int count = static_cast<int>(std::min<int64_t>(StagerRig::kMaxBatch, 50 - first));
    expect_batch(rig, rig.train, order, first, rig.load(0, first, count));
    ++batches;
  }
  EXPECT_EQ(batches, 7);
  EXPECT_EQ(rig.stager->prefetch_misses(), 1);
  EXPECT_EQ(rig.stager->prefetch_hits(), 6);
  // The producer waited before every write, alternating slots: 0 for the first batch, 1 for its
  // prefetch, 0, 1, ...; 7 batches were written (no prefetch after the last).
  std::lock_guard<std::mutex> lock(rig.waited_mutex);
  ASSERT_EQ(rig.waited_slots.size(), 7u);
  for (std::size_t i = 0; i < rig.waited_slots.size(); ++i) EXPECT_EQ(rig.waited_slots[i], int(i % 2));
}

TEST(BatchStager, OutOfSequenceRequestsAreGatheredOnDemandAndStayCorrect) {
  StagerRig rig;
  const std::vector<int32_t> train_order = shuffled_order(50, 5);
  const std::vector<int32_t> test_order = shuffled_order(13, 6);
  rig.stager->set_order(0, train_order);
  rig.stager->set_order(1, test_order);
  expect_batch(rig, rig.train, train_order, 0, rig.load(0, 0, 8));
  expect_batch(rig, rig.test, test_order, 0, rig.load(1, 0, 5));    // a different split: miss
  expect_batch(rig, rig.test, test_order, 5, rig.load(1, 5, 5));    // prefetched
  expect_batch(rig, rig.test, test_order, 10, rig.load(1, 10, 3));  // short last batch, prefetched
  expect_batch(rig, rig.train, train_order, 8, rig.load(0, 8, 8));  // back to train: miss
  expect_batch(rig, rig.train, train_order, 40, rig.load(0, 40, 3)); // a jump: miss
  EXPECT_EQ(rig.stager->prefetch_hits(), 2);
  EXPECT_EQ(rig.stager->prefetch_misses(), 4);
}

TEST(BatchStager, ANewOrderDiscardsBatchesStagedFromTheOldOne) {
  StagerRig rig;
  const std::vector<int32_t> first_order = shuffled_order(50, 7);
  const std::vector<int32_t> second_order = shuffled_order(50, 8);
  rig.stager->set_order(0, first_order);
  expect_batch(rig, rig.train, first_order, 0, rig.load(0, 0, 8));  // prefetches [8, 16) of the first order
  rig.stager->set_order(0, second_order);
  expect_batch(rig, rig.train, second_order, 8, rig.load(0, 8, 8));
  EXPECT_EQ(rig.stager->prefetch_hits(), 0);
}

TEST(BatchStager, RejectsBatchesOutsideTheOrderOrLargerThanMaxBatch) {
  StagerRig rig;
  EXPECT_THROW(rig.stager->acquire(BatchKey{0, 0, 1}), Error);  // no order yet
  rig.stager->set_order(0, shuffled_order(50, 9));
  EXPECT_THROW(rig.stager->acquire(BatchKey{0, 48, 4}), Error);
  EXPECT_THROW(rig.stager->acquire(BatchKey{0, 0, StagerRig::kMaxBatch + 1}), Error);
  EXPECT_THROW(rig.stager->acquire(BatchKey{0, -1, 2}), Error);
  EXPECT_THROW(rig.stager->acquire(BatchKey{2, 0, 2}), Error);
  EXPECT_THROW(rig.stager->set_order(1, {13}), Error);
}

TEST(BatchStager, AFailureOnTheProducerThreadSurfacesInAcquire) {
  StagerRig rig;
  const std::vector<int32_t> order = shuffled_order(50, 10);
  rig.stager->set_order(0, order);
  rig.fail_next_wait = true;
  EXPECT_THROW(rig.stager->acquire(BatchKey{0, 0, 8}), Error);
  // The stager keeps working after the failure was reported.
  expect_batch(rig, rig.train, order, 0, rig.load(0, 0, 8));
}

// ---------------------------------------------------------------------------------------------
// Device totals and the pooling math.

TEST(DeviceTotals, StartEmptyAndConvertFieldByField) {
  DeviceTotals device = empty_device_totals();
  EXPECT_EQ(device.first_nonfinite_batch, -1);
  EXPECT_EQ(device.batches, 0u);
  device.batch_loss_sum = 1.5;
  device.sample_loss_sum = 150.0;
  device.batches = 2;
  device.samples = 100;
  device.correct = 91;
  device.first_nonfinite_batch = 1;
  for (int i = 0; i < 100; ++i) device.confusion[i] = static_cast<unsigned long long>(i);
  const PassTotals totals = to_pass_totals(device);
  EXPECT_EQ(totals.batch_loss_sum, 1.5);
  EXPECT_EQ(totals.sample_loss_sum, 150.0);
  EXPECT_EQ(totals.batches, 2);
  EXPECT_EQ(totals.samples, 100);
  EXPECT_EQ(totals.correct, 91);
  EXPECT_EQ(totals.first_nonfinite_batch, 1);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(totals.confusion[i], int64_t(i));
  EXPECT_DOUBLE_EQ(totals.mean_batch_loss(), 0.75);
  EXPECT_DOUBLE_EQ(totals.accuracy(), 0.91);
}

TEST(PoolMath, TheWindowMaximumWinsAndTiesGoToTheFirstInRowMajorOrder) {
  // A 4x4 plane; windows: (0,0) {1,5,2,3} -> 5 at 1; (0,1) {7,7,0,7} -> first 7 at 0;
  // (1,0) {-1,-2,-3,-0.5} -> -0.5 at 3; (1,1) {0,0,0,0} -> 0 at 0.
  const float plane[16] = {1, 5, 7, 7,    //
                           2, 3, 0, 7,    //
                           -1, -2, 0, 0,  //
                           -3, -0.5f, 0, 0};
  const math::PoolWinner a = math::maxpool2x2_window(plane, 4, 0, 0);
  EXPECT_EQ(a.value, 5.0f);
  EXPECT_EQ(a.position, 1);
  const math::PoolWinner b = math::maxpool2x2_window(plane, 4, 0, 1);
  EXPECT_EQ(b.value, 7.0f);
  EXPECT_EQ(b.position, 0);
  const math::PoolWinner c = math::maxpool2x2_window(plane, 4, 1, 0);
  EXPECT_EQ(c.value, -0.5f);
  EXPECT_EQ(c.position, 3);
  const math::PoolWinner d = math::maxpool2x2_window(plane, 4, 1, 1);
  EXPECT_EQ(d.value, 0.0f);
  EXPECT_EQ(d.position, 0);
}

TEST(PoolMath, BackwardRoutesToTheWinnerOnlyWhereTheReluWasActive) {
  EXPECT_EQ(math::maxpool2x2_relu_backward(2.0f, 0.25f, 3, 3), 0.25f);  // the winner, active
  EXPECT_EQ(math::maxpool2x2_relu_backward(2.0f, 0.25f, 3, 2), 0.0f);   // not the winner
  EXPECT_EQ(math::maxpool2x2_relu_backward(0.0f, 0.25f, 0, 0), 0.0f);   // the winner, clamped by ReLU
}

TEST(PoolMath, TheFusedBiasReluWindowEqualsBiasReluThenPooling) {
  // The fused kernel's window must give the same bits as a bias + ReLU pass and the plain
  // window: same additions, same ReLU, same first-maximum rule (ties of clamped zeros included).
  const float plane[16] = {0.1f, -2.0f, 0.3f, 0.25f,  //
                           -0.7f, 0.05f, 0.3f, -1.0f,  //
                           -3.0f, -2.0f, 1e-8f, 2.0f,  //
                           -1.0f, -0.5f, 2.0f, -4.0f};
  for (const float bias : {-0.2f, 0.0f, 0.15f}) {
    float activated_plane[16];
    for (int i = 0; i < 16; ++i) activated_plane[i] = math::relu(plane[i] + bias);
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        float activated[4];
        const math::PoolWinner fused = math::bias_relu_maxpool2x2_window(plane, 4, y, x, bias, activated);
        const math::PoolWinner separate = math::maxpool2x2_window(activated_plane, 4, y, x);
        EXPECT_EQ(fused.value, separate.value) << bias << " " << y << x;
        EXPECT_EQ(fused.position, separate.position) << bias << " " << y << x;
        const float* top = activated_plane + 2 * y * 4 + 2 * x;
        EXPECT_EQ(activated[0], top[0]);
        EXPECT_EQ(activated[1], top[1]);
        EXPECT_EQ(activated[2], top[4]);
        EXPECT_EQ(activated[3], top[5]);
      }
    }
  }
  EXPECT_EQ(math::bias_relu_maxpool2x2_window(plane, 4, 0, 0, 0.0f, nullptr).value, 0.1f);
}

TEST(KernelChoice, NamesParseAndAnythingElseIsAnErrorListingTheChoices) {
  EXPECT_EQ(parse_kernel_set("classic"), KernelSet::kClassic);
  EXPECT_EQ(parse_kernel_set("fused"), KernelSet::kFused);
  EXPECT_EQ(parse_pooling("fused"), PoolingKind::kFused);
  EXPECT_EQ(parse_pooling("cudnn"), PoolingKind::kCudnn);
  EXPECT_STREQ(kernel_set_name(parse_kernel_set("fused")), "fused");
  EXPECT_STREQ(pooling_name(parse_pooling("cudnn")), "cudnn");
  try {
    parse_kernel_set("fast");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("classic or fused"), std::string::npos) << error.what();
  }
  EXPECT_THROW(parse_pooling("avg"), Error);
}

}  // namespace
}  // namespace train_gpu::cuda
