// `train_gpu features --checkpoint FILE --index N [--layer N|NAME]`: what a convolution layer
// of a trained model sees in one image -- its maps after the layer's activation (the tutorial's
// 32 post-ReLU maps) as .npy and as a PNG grid (host/eval/feature_grid.h), with the prediction
// printed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "host/cli/commands.h"
#include "host/cli/model_from_checkpoint.h"
#include "host/cli/options.h"
#include "host/cli/validators.h"
#include "host/common/error.h"
#include "host/common/format.h"
#include "host/eval/activation_maps.h"
#include "host/eval/report_files.h"

namespace train_gpu::cli {

void add_features_command(CLI::App& app) {
  struct Options : CheckpointCommandOptions {
    int64_t index = 0;
    std::string layer;  // empty: the first Conv2D
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "features",
      "Show a convolution layer's feature maps (after its activation) of one image and the model's\n"
      "prediction; writes features-<split>-<index>.npy (channels, height, width) -- the tutorial's\n"
      "(32, 26, 26) -- -input.npy, .json and a .png grid (another layer than the first Conv2D: its\n"
      "name is added, features-<split>-<index>-<layer>.*). The dataset is the checkpoint's unless\n"
      "--dataset is given");
  command->add_option("--index", options->index, "Image index within the split")->required()->check(whole_number_at_least(0));
  command->add_option("--layer", options->layer,
                      "The Conv2D layer to show: its 1-based position in the model or its name (default: the first Conv2D)");
  add_checkpoint_command_options(*command, *options, "Checkpoint (.safetensors): train_gpu's, or a PyTorch state_dict of the model",
                                 "Split the image comes from: test or train");

  command->callback([options, command] {
    // --layer is checked against the checkpoint's model before the data is loaded (the file is
    // read twice: a few MB, for an error that comes at once).
    const int layer = eval::feature_layer_index(load_model_weights(options->checkpoint).checkpoint.spec, options->layer);
    const bool dataset_given = command->count("--dataset") > 0;
    const Split split = options->split_value();
    const std::unique_ptr<LoadedModel> loaded =
        load_model_for_checkpoint(options->checkpoint, options->data, dataset_given, options->device, split, std::cout, 1);
    const model::NetworkSpec& spec = loaded->checkpoint.spec;  // the model the checkpoint holds
    const ImageSet& images = split == Split::kTrain ? loaded->dataset.train : loaded->dataset.test;
    if (options->index >= images.count) {
      throw Error("--index " + std::to_string(options->index) + " is outside the " + options->split + " split (0.." +
                  std::to_string(images.count - 1) + ")");
    }
    const std::filesystem::path out_dir =
        options->out.empty() ? eval::default_evaluation_dir(options->checkpoint, split) : std::filesystem::path(options->out);

    const ImageActivations activations = loaded->backend->activations(split, options->index);
    const eval::FeatureMaps maps = eval::feature_maps_of(activations, spec, layer);
    const eval::FeatureFiles files = eval::write_feature_files(out_dir, loaded->dataset, split, images, options->index,
                                                               maps, activations.probabilities, loaded->evaluated);

    const std::vector<std::string>& names = loaded->dataset.class_names;
    const auto& p = activations.probabilities;
    const int predicted = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    const int label = images.labels[static_cast<size_t>(options->index)];
    std::cout << options->split << " image " << options->index << ": label " << label << " (" << names[static_cast<size_t>(label)]
              << "), predicted " << predicted << " (" << names[static_cast<size_t>(predicted)] << ") with probability "
              << fixed(p[static_cast<size_t>(predicted)], 4) << (predicted == label ? "" : "  <- wrong") << "\n";
    std::cout << "probabilities:";
    for (size_t c = 0; c < p.size(); ++c) std::cout << "  " << c << ": " << fixed(p[c], 4);
    std::cout << "\n";
    const model::LayerSpec& shown = spec.layers[std::size_t(layer)];
    const int dead = eval::all_zero_maps(maps);
    std::cout << "feature maps of layer " << layer + 1 << " (" << shown.name << "): (" << maps.channels << ", " << maps.height
              << ", " << maps.width << ") after " << model::activation_name(shown.activation) << "; " << dead << " of "
              << maps.channels << " are all zero for this image\n";
    std::cout << "wrote " << files.maps_npy.string() << ", " << files.input_npy.filename().string() << ", "
              << files.json.filename().string() << ", " << files.png.filename().string() << "\n";
  });
}

}  // namespace train_gpu::cli
