// Shared command-line options (host/cli/options.h): --profile-steps parsing and how the device
// flags reach BackendOptions.
#include <gtest/gtest.h>

#include "host/cli/options.h"
#include "host/common/error.h"

namespace train_gpu::cli {
namespace {

TEST(Options, ProfileStepsAreAClosedOneBasedRange) {
  EXPECT_EQ(parse_step_range("20:24"), std::make_pair(int64_t{20}, int64_t{24}));
  EXPECT_EQ(parse_step_range("1:1"), std::make_pair(int64_t{1}, int64_t{1}));
  for (const char* bad : {"", "20", "20:", ":24", "0:3", "5:4", "a:b", "-1:3", "1:2:3", "1 :2", "99999999999999:1"}) {
    EXPECT_THROW(parse_step_range(bad), Error) << bad;
  }
}

TEST(Options, DeviceFlagsReachTheBackendOptions) {
  CLI::App app;
  DeviceOptions device;
  add_device_options(app, device, DeviceFlags::kTraining);
  app.parse("--graph --graph-steps 4 --kernels fused --pooling cudnn --profile-steps 3:5", false);
  BackendOptions backend = backend_options_from(device, 64);
  EXPECT_TRUE(backend.graph);
  EXPECT_EQ(backend.graph_steps, 4);
  EXPECT_EQ(backend.kernels, "fused");
  EXPECT_EQ(backend.pooling, "cudnn");
  EXPECT_EQ(backend.profile_first_step, 3);
  EXPECT_EQ(backend.profile_last_step, 5);
  EXPECT_EQ(backend.max_batch, 64);

  CLI::App defaults_app;
  DeviceOptions defaults;
  add_device_options(defaults_app, defaults, DeviceFlags::kTraining);
  defaults_app.parse("--no-graph", false);
  backend = backend_options_from(defaults, 32);
  EXPECT_FALSE(backend.graph);  // the default until a device run has proven graphs
  EXPECT_EQ(backend.kernels, "classic");
  EXPECT_EQ(backend.pooling, "fused");
  EXPECT_EQ(backend.profile_first_step, 0);
  EXPECT_EQ(backend.profile_last_step, 0);
}

// CLI11 converts integers with base 0: before the checks refused leading zeros, --limit-train 010
// used 8 images.
TEST(Options, IntegerFlagsHoldTheDecimalNumberTypedOrAreRefused) {
  CLI::App app;
  DataOptions data;
  add_data_options(app, data);
  DeviceOptions device;
  add_device_options(app, device, DeviceFlags::kTraining);
  app.parse("--limit-train 10 --limit-test 100 --threads 8 --graph-steps 12", false);
  EXPECT_EQ(data.limit_train, 10);
  EXPECT_EQ(data.limit_test, 100);
  EXPECT_EQ(device.threads, 8);
  EXPECT_EQ(device.graph_steps, 12);
  for (const char* octal : {"--limit-train 010", "--limit-test 0100", "--threads 010", "--graph-steps 010"}) {
    CLI::App fresh;
    DataOptions fresh_data;
    add_data_options(fresh, fresh_data);
    DeviceOptions fresh_device;
    add_device_options(fresh, fresh_device, DeviceFlags::kTraining);
    EXPECT_THROW(fresh.parse(octal, false), CLI::ValidationError) << octal;
  }
}

TEST(Options, UnknownKernelSetsAndPoolingAreRejectedByTheParser) {
  CLI::App app;
  DeviceOptions device;
  add_device_options(app, device, DeviceFlags::kTraining);
  EXPECT_THROW(app.parse("--kernels fast", false), CLI::ValidationError);
  EXPECT_THROW(app.parse("--pooling avg", false), CLI::ValidationError);
}

}  // namespace
}  // namespace train_gpu::cli
