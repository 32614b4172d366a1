// `train_gpu export --checkpoint FILE [--format onnx] [--out model.onnx]`: the trained model in a
// format serving stacks load (host/onnx/onnx_export.h). Needs no dataset and no device.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "host/cli/commands.h"
#include "host/cli/model_from_checkpoint.h"
#include "host/common/format.h"
#include "host/common/utf8.h"
#include "host/model/network_spec.h"
#include "host/onnx/onnx_export.h"
#include "host/train/atomic_file.h"

namespace train_gpu::cli {

void add_export_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::string format = "onnx";
    std::string out = "model.onnx";
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "export",
      "Export a checkpoint (train_gpu's, or a PyTorch state_dict of the model) for serving: ONNX opset 17,\n"
      "input 'input' (N,C,H,W) float32 = pixels / 255 (the tutorial's: (N,1,28,28)), output 'logits' (N,classes)\n"
      "and, for a model whose Keras form ends in softmax, 'probabilities'; any batch size N");
  command->add_option("--checkpoint", options->checkpoint, "Checkpoint (.safetensors) to export")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--format", options->format, "Output format")->check(CLI::IsMember({"onnx"}))->capture_default_str();
  command->add_option("--out", options->out, "Output file (replaced atomically when it exists)")->capture_default_str();

  command->callback([options] {
    const ModelWeights weights = load_weights_for_command(options->checkpoint, std::cout);
    OnnxProvenance provenance;
    provenance.checkpoint = std::filesystem::path(options->checkpoint).filename().string();
    if (!is_valid_utf8(provenance.checkpoint)) {
      std::cout << "note: the checkpoint's file name is not valid UTF-8; the model's train_gpu.checkpoint metadata "
                   "has U+FFFD in place of the invalid bytes\n";
    }
    if (!weights.foreign) {
      provenance.dataset = weights.checkpoint.metadata.dataset;
      provenance.epoch = weights.checkpoint.metadata.epoch;
      provenance.step = weights.checkpoint.state.step;
    }
    // An export killed while writing (SIGTERM, Ctrl-C, kill -9) leaves its temporary beside --out.
    const std::filesystem::path out_directory =
        std::filesystem::path(options->out).has_parent_path() ? std::filesystem::path(options->out).parent_path() : ".";
    if (const int removed = remove_stale_temporaries(out_directory)) {
      std::cout << "removed " << removed << " unfinished file(s) that a killed process left in " << out_directory.string()
                << "\n";
    }
    const model::NetworkSpec& spec = weights.checkpoint.spec;
    const std::size_t bytes = write_onnx_model(options->out, spec, weights.checkpoint.state.parameters,
                                               weights.checkpoint.state.buffers, provenance);
    std::cout << "wrote " << options->out << " (" << with_thousands(static_cast<int64_t>(bytes)) << " bytes): ONNX opset "
              << kOnnxOpsetVersion << ", IR version " << kOnnxIrVersion << "; input '" << kOnnxInputName
              << "' float32 (N," << spec.input.channels << "," << spec.input.height << "," << spec.input.width
              << ") in [0,1], output '" << kOnnxOutputName << "' (N," << spec.classes() << ") logits"
              << (spec.softmax_output ? std::string(" and '") + kOnnxProbabilitiesName + "'"
                                      : std::string(" (apply softmax for probabilities)"))
              << "\n";
  });
}

}  // namespace train_gpu::cli
