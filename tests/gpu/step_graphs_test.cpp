// StepGraphs' switch between graph replays and eager launches: host bookkeeping only (no capture
// happens), so these run without a GPU.
#include <gtest/gtest.h>

#include "cuda/graph/step_graphs.h"

namespace train_gpu::cuda {
namespace {

TEST(StepGraphs, AHostLoaderSuspendsGraphsOnlyUntilTheNextDeviceLoader) {
  StepGraphs graphs(nullptr);
  EXPECT_FALSE(graphs.disabled());
  graphs.suspend("--graph needs the dataset on the device");
  EXPECT_TRUE(graphs.disabled());
  EXPECT_EQ(graphs.disabled_reason(), "--graph needs the dataset on the device");
  graphs.resume();  // attach_data with a loader that gathers at the device cursor
  EXPECT_FALSE(graphs.disabled()) << "turning graphs off for one loader was permanent";
}

TEST(StepGraphs, AFailedCaptureDisablesGraphsForGood) {
  StepGraphs graphs(nullptr);
  graphs.disable("CUDA graph capture failed (test)");
  graphs.resume();
  EXPECT_TRUE(graphs.disabled());
  EXPECT_EQ(graphs.disabled_reason(), "CUDA graph capture failed (test)");
  graphs.suspend("a host loader");  // the permanent reason stays the one reported
  EXPECT_EQ(graphs.disabled_reason(), "CUDA graph capture failed (test)");
}

}  // namespace
}  // namespace train_gpu::cuda
