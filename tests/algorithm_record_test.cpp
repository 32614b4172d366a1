// How runs record their cuDNN algorithms (host/train/algorithm_record.h): checkpoint metadata
// that a resume reads back, and config.json's "cudnn_algorithms". The Trainer's use of it is in
// trainer_test.cpp (CheckpointsRecordTheBackendsCudnnAlgorithmsForAResume).
#include "host/train/algorithm_record.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

ConvolutionAlgorithms pair(int forward, int backward_filter, const std::string& how) {
  ConvolutionAlgorithms algorithms;
  algorithms.forward = forward;
  algorithms.backward_filter = backward_filter;
  algorithms.how = how;
  return algorithms;
}

TEST(AlgorithmRecord, RoundTripsThroughCheckpointMetadata) {
  std::map<std::string, std::string> extra = {{"batch_size", "64"}};
  record_conv_algorithms(pair(1, 5, "benchmarked (cudnnFind)"), extra);
  EXPECT_EQ(extra.at("cudnn.forward_algorithm"), "1");
  EXPECT_EQ(extra.at("cudnn.backward_filter_algorithm"), "5");
  EXPECT_EQ(extra.at("cudnn.algorithms_how"), "benchmarked (cudnnFind)");
  EXPECT_EQ(extra.at("batch_size"), "64");
  const ConvolutionAlgorithms back = recorded_conv_algorithms(extra);
  EXPECT_TRUE(back.same_algorithms(pair(1, 5, "")));
  EXPECT_EQ(back.how, "recorded in the checkpoint");
}

TEST(AlgorithmRecord, NothingIsRecordedOrReadForABackendWithoutCudnn) {
  std::map<std::string, std::string> extra;
  record_conv_algorithms(ConvolutionAlgorithms{}, extra);
  EXPECT_TRUE(extra.empty());
  EXPECT_FALSE(recorded_conv_algorithms(extra).chosen());
  extra["cudnn.forward_algorithm"] = "1";  // half a record: choose afresh
  EXPECT_FALSE(recorded_conv_algorithms(extra).chosen());
}

TEST(AlgorithmRecord, AMalformedRecordIsAnErrorNamingTheKey) {
  for (const char* bad : {"", "-1", "one", "100", "1 "}) {
    std::map<std::string, std::string> extra = {{"cudnn.forward_algorithm", "1"},
                                                {"cudnn.backward_filter_algorithm", bad}};
    EXPECT_EQ(t::error_of([&] { recorded_conv_algorithms(extra); }),
              std::string("checkpoint metadata 'cudnn.backward_filter_algorithm' is '") + bad +
                  "', not a cuDNN algorithm number");
  }
}

TEST(AlgorithmRecord, ConfigJsonNamesTheAlgorithms) {
  const nlohmann::json json = conv_algorithms_json(pair(1, 1, "as requested"));
  EXPECT_EQ(json["forward"], "IMPLICIT_PRECOMP_GEMM");
  EXPECT_EQ(json["forward_id"], 1);
  EXPECT_EQ(json["backward_filter"], "ALGO_1");
  EXPECT_EQ(json["backward_filter_id"], 1);
  EXPECT_EQ(json["how"], "as requested");
  EXPECT_TRUE(conv_algorithms_json(ConvolutionAlgorithms{}).is_null());
}

}  // namespace
}  // namespace train_gpu
