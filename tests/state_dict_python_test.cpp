// A state_dict written by Hugging Face's safetensors library itself -- the writer behind
// PyTorch's save_file(model.state_dict()) -- from a train_gpu checkpoint's parameters, as a PyTorch
// user who loaded our checkpoint into the README's Net and saved it back would produce. The engine
// must read it as the same weights (bit for bit), evaluate it to the same numbers and export it.
// Uses safetensors.numpy (the same Rust serializer as safetensors.torch; PyTorch need not be
// installed) in TRAIN_GPU_TEST_PYTHON; skips, saying why, without it.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "support/random_model.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

// The six parameters only, as state_dict() holds them, and no metadata (save_file's default).
constexpr const char* kResave =
    "import sys\n"
    "from safetensors.numpy import load_file, save_file\n"
    "tensors = load_file(sys.argv[1])\n"
    "save_file({name: value for name, value in tensors.items() if not name.startswith('optim.')}, sys.argv[2])\n"
    "print(sorted(name for name in tensors if not name.startswith('optim.')))\n";

TEST(StateDictPython, FileWrittenBySafetensorsIsEvaluatedAndExportedAsTheSameWeights) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_TEST_PYTHON, "numpy, safetensors.numpy");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  t::TempDir scratch;
  Checkpoint checkpoint = t::checkpoint_of(t::random_parameters(99));
  checkpoint.state.adam_m.assign(model::kParameterCount, 0.5f);  // moments the state_dict must leave behind
  const fs::path ours = scratch / "epoch-001.safetensors";
  save_checkpoint(ours, checkpoint);

  const fs::path script = scratch / "resave.py";
  t::write_file(script, t::Bytes(kResave, kResave + std::strlen(kResave)));
  const fs::path foreign = scratch / "net.safetensors";
  t::MergedCommandResult result = t::run_command_merged(t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " " + t::shell_quote(script.string()) +
                                                        " " + t::shell_quote(ours.string()) + " " + t::shell_quote(foreign.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "['conv.bias', 'conv.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']\n");

  const ModelWeights weights = load_model_weights(foreign);
  EXPECT_TRUE(weights.foreign);
  ASSERT_EQ(weights.checkpoint.state.parameters.size(), model::kParameterCount);
  EXPECT_EQ(std::memcmp(weights.checkpoint.state.parameters.data(), checkpoint.state.parameters.data(),
                        model::kParameterCount * sizeof(float)),
            0);

  const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
  // export needs no data, so it runs even where MNIST is missing.
  result = t::run_command_merged(binary + " export --checkpoint " + t::shell_quote(foreign.string()) + " --out " +
                                 t::shell_quote((scratch / "net.onnx").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "note: " + foreign.string() + " carries no train_gpu metadata");

  if (!fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-images-idx3-ubyte.gz")) return;
  const std::string data = " --device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --limit-test 500 --out " +
                           t::shell_quote((scratch / "evaluation").string());
  const t::MergedCommandResult from_ours = t::run_command_merged(binary + " evaluate --checkpoint " + t::shell_quote(ours.string()) + data);
  const t::MergedCommandResult from_foreign =
      t::run_command_merged(binary + " evaluate --checkpoint " + t::shell_quote(foreign.string()) + data);
  ASSERT_EQ(from_ours.exit_code, 0) << from_ours.output;
  ASSERT_EQ(from_foreign.exit_code, 0) << from_foreign.output;
  const size_t at = from_ours.output.find("test loss ");
  ASSERT_NE(at, std::string::npos) << from_ours.output;
  t::expect_contains(from_foreign.output, from_ours.output.substr(at, from_ours.output.find('\n', at) - at));
}

}  // namespace
}  // namespace train_gpu
