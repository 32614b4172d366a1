// The fixture of the tests that run the Trainer on the CPU backend and a real MNIST subset: 640
// training images (10 batches of 64 per epoch) and 200 test images, a scratch root per test
// (removed after it), and no stop signal left over from another test.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "host/data/dataset.h"
#include "host/train/stop_signal.h"
#include "support/mnist_subset.h"

namespace train_gpu::testing {

class TrainerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mnist_available()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
    dataset_ = mnist_subset(640, 200);
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() /
            (std::string(test->test_suite_name()) + "_" + std::to_string(::getpid()) + "_" + test->name());
    std::filesystem::remove_all(root_);
    StopSignal::reset();
  }
  void TearDown() override {
    StopSignal::reset();
    std::filesystem::remove_all(root_);
  }

  Dataset dataset_;
  std::filesystem::path root_;
  std::ostringstream log_;
};

}  // namespace train_gpu::testing
