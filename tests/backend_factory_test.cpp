// make_backend (host/model/backend_factory.h) with a model other than the tutorial's: on a GPU it
// is the spec-driven CUDA backend (cuda/network/), never a refusal or a silent CPU fallback; where
// no GPU answers, the same errors and notices as for the tutorial. Which branch runs depends on
// the machine; each test skips the branch that cannot be checked here.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "host/common/error.h"
#include "host/model/backend_factory.h"
#include "support/example_specs.h"

#ifdef TRAIN_GPU_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace train_gpu {
namespace {

bool a_gpu_answers() {
#ifdef TRAIN_GPU_HAVE_CUDA
  return cuda::probe_devices().device_count > 0;
#else
  return false;
#endif
}

BackendOptions spec_options() {
  BackendOptions options;
  options.spec = testing::cifar_shaped(8);
  options.max_batch = 8;
  return options;
}

TEST(BackendFactoryTest, ASpecModelOnAMissingGpuIsTheMissingGpusErrorNotARefusalOfTheModel) {
  if (a_gpu_answers()) GTEST_SKIP() << "a GPU answers here: --device 0 rightly trains on it";
  std::ostringstream notices;
  try {
    make_backend(parse_device("0"), spec_options(), notices, "training");
    FAIL() << "--device 0 without a GPU was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("--device 0: ", 0), 0u) << message;
    EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
    EXPECT_EQ(message.find("tutorial"), std::string::npos) << "the model itself was refused: " << message;
  }
}

TEST(BackendFactoryTest, ASpecModelWithoutDeviceFallsBackOnlyForTheMissingGpu) {
  if (a_gpu_answers()) GTEST_SKIP() << "a GPU answers here: no fallback to check";
  std::ostringstream notices;
  const std::unique_ptr<Backend> backend = make_backend(parse_device(""), spec_options(), notices, "training");
  EXPECT_EQ(backend->description().rfind("cpu (", 0), 0u) << backend->description();
  EXPECT_EQ(backend->network().description(), spec_options().spec.description());
  EXPECT_EQ(notices.str().find("tutorial"), std::string::npos) << notices.str();
  EXPECT_NE(notices.str().find("on the CPU"), std::string::npos) << notices.str();
}

TEST(BackendFactoryTest, ASpecModelOnAGpuRunsThereLayerByLayer) {
  if (!a_gpu_answers()) GTEST_SKIP() << "no GPU answers here";
  std::ostringstream notices;
  const std::unique_ptr<Backend> backend = make_backend(parse_device("0"), spec_options(), notices, "training");
  EXPECT_EQ(backend->description().rfind("cuda:0 ", 0), 0u) << backend->description();
  EXPECT_EQ(backend->network().description(), spec_options().spec.description());
  EXPECT_EQ(backend->kernels(), "cuDNN + cuBLAS, spec layers, classic kernels, fused pooling");
  EXPECT_TRUE(notices.str().empty()) << notices.str();
}

}  // namespace
}  // namespace train_gpu
