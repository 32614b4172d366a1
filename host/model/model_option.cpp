#include "host/model/model_option.h"

#include <cctype>
#include <string>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/model/keras_json.h"
#include "host/model/spec_line.h"

namespace train_gpu::model {
namespace {

// Far above any Sequential's JSON (the tutorial's is 4 KB), far below what would exhaust memory.
constexpr uint64_t kMaxJsonBytes = 16u << 20;

bool names_json_file(const std::string& option) {
  if (option.size() < 5) return false;
  std::string suffix = option.substr(option.size() - 5);
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return suffix == ".json";
}

std::string read_json_file(const std::string& path) {
  const RegularFile file = open_regular_file(path, "a Keras model JSON file (model.to_json())");
  if (file.size > kMaxJsonBytes) {
    throw Error(path + ": " + std::to_string(file.size) + " bytes is too large for a Keras model JSON file (at most " +
                std::to_string(kMaxJsonBytes) + ")");
  }
  std::string text(static_cast<std::size_t>(file.size), '\0');
  text.resize(read_up_to(file.descriptor.get(), text.data(), text.size(), path));
  return text;
}

NetworkSpec from_option(const std::string& model_option, const Shape& input, bool json_input_must_match,
                        std::vector<std::string>* notes) {
  if (model_option == kTutorialModelOption) {
    if (input == tutorial_network().input) return tutorial_network();
    std::vector<LayerSpec> layers = tutorial_network().layers;
    for (LayerSpec& layer : layers) layer.name.clear();
    try {
      return build_network(input, std::move(layers));
    } catch (const Error& error) {
      throw Error(std::string("--model tutorial on ") + to_string(input) + " images: " + error.what());
    }
  }
  if (names_json_file(model_option)) {
    return network_from_keras_json(read_json_file(model_option), model_option, json_input_must_match ? &input : nullptr, notes);
  }
  if (model_option.find_first_not_of(" \t") == std::string::npos) {
    throw Error("--model is empty; expected tutorial, a Keras JSON file (*.json) or a one-line model such as "
                "'conv32k3 relu, maxpool2, flatten, dense128 relu, dense10'");
  }
  return network_from_line(model_option, input);
}

}  // namespace

NetworkSpec network_from_option(const std::string& model_option, const Shape& data_input, std::vector<std::string>* notes) {
  return from_option(model_option, data_input, true, notes);
}

NetworkSpec network_from_option_without_data(const std::string& model_option, const Shape& default_input,
                                             std::vector<std::string>* notes) {
  return from_option(model_option, default_input, false, notes);
}

}  // namespace train_gpu::model
