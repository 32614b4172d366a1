// `train_gpu predict --checkpoint FILE IMAGE...`: the trained model asked about new images -- PNG
// or JPEG pictures of digits, .npy arrays, IDX files (host/predict/predict_inputs.h). Prints the
// class and the top-3 probabilities per image, or JSON with --json; --save-input writes the 28x28
// each prediction saw (host/predict/saved_inputs.h). An image that cannot be read is one error
// line; the others are still predicted, and the exit status is 1.
#include <algorithm>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "host/cli/commands.h"
#include "host/cli/model_from_checkpoint.h"
#include "host/cli/options.h"
#include "host/cli/validators.h"
#include "host/common/utf8.h"
#include "host/data/dataset.h"
#include "host/model/backend_factory.h"
#include "host/model/network_spec.h"
#include "host/predict/predict_inputs.h"
#include "host/predict/prediction_report.h"
#include "host/predict/saved_inputs.h"

namespace train_gpu::cli {

namespace {

constexpr int kBatch = 100;

struct PredictOptions {
  std::string checkpoint;
  std::vector<std::string> images;
  std::vector<int64_t> indices;
  bool json = false;
  std::string save_input;  // directory for the 28x28 pictures the model saw; empty: none
  DeviceOptions device;
};

// The (count, 10) probabilities of `inputs` (all without errors), through the backend the device
// options ask for. The images are attached as both splits; evaluate_batch reads the test one.
std::vector<float> probabilities_of(const std::vector<const predict::PredictInput*>& inputs, const ModelWeights& weights,
                                    const DeviceOptions& device, std::ostream& log) {
  const model::NetworkSpec& spec = weights.checkpoint.spec;
  const std::size_t classes = static_cast<std::size_t>(spec.classes());
  ImageSet images;
  images.count = static_cast<int64_t>(inputs.size());
  images.channels = spec.input.channels;
  images.rows = spec.input.height;
  images.cols = spec.input.width;
  images.classes = spec.classes();
  for (const predict::PredictInput* input : inputs) images.pixels.insert(images.pixels.end(), input->pixels.begin(), input->pixels.end());
  images.labels.assign(inputs.size(), 0);  // unknown; only the loss, which nobody reads, uses them

  BackendOptions options = backend_options_from(device, kBatch);
  options.spec = spec;
  const std::unique_ptr<Backend> backend = make_backend(parse_device(device.device), options, log);
  note_unused_gpu_settings(device, *backend, log);
  log << "device: " << backend->description() << "\n";
  backend->attach_data(images, images);
  backend->set_state(weights.checkpoint.state);
  std::vector<int32_t> order(inputs.size());
  std::iota(order.begin(), order.end(), 0);
  backend->set_order(Split::kTest, order);
  std::vector<float> probabilities(inputs.size() * classes);
  for (int64_t first = 0; first < images.count; first += kBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kBatch, images.count - first));
    backend->evaluate_batch(Split::kTest, first, count, probabilities.data() + std::size_t(first) * classes);
  }
  return probabilities;
}

void run_predict(const PredictOptions& options) {
  // With --json, stdout carries the JSON document alone.
  std::ostream& log = options.json ? std::cerr : std::cout;
  if (!options.save_input.empty()) predict::prepare_saved_inputs_directory(options.save_input);
  const ModelWeights weights = load_weights_for_command(options.checkpoint, log);
  const std::string& dataset = weights.checkpoint.metadata.dataset;
  const model::NetworkSpec& spec = weights.checkpoint.spec;
  const std::size_t classes = static_cast<std::size_t>(spec.classes());
  const std::vector<std::string> names = model_class_names(weights, options.checkpoint, spec.classes());
  std::vector<predict::PredictInput> inputs;
  for (const std::string& image : options.images) {
    std::vector<predict::PredictInput> more = predict::load_predict_inputs(image, options.indices, spec.input);
    inputs.insert(inputs.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  if (!options.save_input.empty()) predict::save_inputs(options.save_input, inputs);
  std::vector<const predict::PredictInput*> usable;
  for (const predict::PredictInput& input : inputs) {
    if (input.error.empty()) usable.push_back(&input);
  }
  const std::vector<float> probabilities = usable.empty() ? std::vector<float>() : probabilities_of(usable, weights, options.device, log);

  nlohmann::json predictions = nlohmann::json::array();
  size_t next = 0;  // index into usable / probabilities
  int failures = 0;
  for (const predict::PredictInput& input : inputs) {
    std::vector<float> row;
    if (input.error.empty()) {
      row.assign(probabilities.begin() + static_cast<std::ptrdiff_t>(next * classes),
                 probabilities.begin() + static_cast<std::ptrdiff_t>((next + 1) * classes));
      ++next;
    } else {
      ++failures;
      std::cerr << "train_gpu: error: " << input.error << "\n";
    }
    if (options.json) {
      predictions.push_back(predict::prediction_json(input, row, names));
    } else if (input.error.empty()) {
      std::cout << predict::prediction_text(input, row, names);
    }
  }
  if (options.json) {
    for (const predict::PredictInput& input : inputs) {
      if (!is_valid_utf8(input.name)) {
        std::cerr << "train_gpu: warning: " << input.name
                  << ": the name is not valid UTF-8; in the JSON its invalid bytes are replaced by U+FFFD\n";
      }
    }
    const nlohmann::json document = {{"checkpoint", options.checkpoint},
                                     {"dataset", dataset.empty() ? nlohmann::json(nullptr) : nlohmann::json(dataset)},
                                     {"predictions", predictions},
                                     {"failed", failures}};
    // File names and the headers quoted in errors are bytes, not necessarily UTF-8; a strict dump
    // throws on the first bad byte and every prediction is lost, so those bytes become U+FFFD.
    std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (failures > 0) throw CLI::RuntimeError(1);  // the error lines are printed; exit 1 quietly
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* command = app.add_subcommand(
      "predict",
      "Ask a trained model about images: PNG or JPEG pictures of digits (any size, colour or gray, alpha; made\n"
      "to look like MNIST digits: inverted when dark on light, uneven or grainy paper fitted and subtracted,\n"
      "the digit scaled into 20x20 and centred in 28x28 by its centre of mass, each step printed), .npy arrays\n"
      "of 28x28 images or IDX files. Prints the class and the top-3 probabilities per image; an unreadable\n"
      "image is one error line, the rest still run");
  command->add_option("--checkpoint", options->checkpoint,
                      "Checkpoint (.safetensors): train_gpu's, or a PyTorch state_dict of the model")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("images", options->images, "PNG or JPEG pictures, .npy arrays or IDX images files")->required();
  command->add_option("--index", options->indices,
                      "Which images of each multi-image file (IDX, an (N,28,28) .npy) to predict, e.g. --index 0,7,42 [default: all];\n"
                      "a single-image file (PNG, JPEG, a (28,28) .npy) is predicted as it is, and its preprocessing says --index did not apply")
      ->delimiter(',')
      ->allow_extra_args(false)  // one word per --index, so the image files after it stay images
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(whole_number_at_least(0));
  command->add_flag("--json", options->json, "Print one JSON document (progress and errors go to stderr)");
  command->add_option("--save-input", options->save_input,
                      "Write the 28x28 picture each prediction saw, as PNG, into DIR (created; a new or empty\n"
                      "directory), named POSITION-NAME.png: digit.jpg first -> 0-digit.png, x.npy[3] second -> 1-x-3.png")
      ->option_text("DIR");
  add_device_options(*command, options->device);
  command->callback([options] { run_predict(*options); });
}

}  // namespace train_gpu::cli
