#include "host/cli/model_options.h"

#include <charconv>
#include <vector>

#include "host/common/error.h"
#include "host/model/model_option.h"

namespace train_gpu::cli {

void add_model_option(CLI::App& command, ModelOptions& options) {
  command
      .add_option("--model", options.model,
                  "The network: tutorial (the TensorFlow 2 tutorial's CNN), a Keras JSON file (model.to_json() of a "
                  "keras.Sequential, *.json), or a one-line form such as 'conv32k3 relu, maxpool2, flatten, dense128 relu, "
                  "dense10' (README, Models)")
      ->capture_default_str();
}

model::NetworkSpec network_from_options(const ModelOptions& options, const model::Shape* data_input, std::ostream& notes) {
  std::vector<std::string> set_aside;
  model::NetworkSpec spec =
      data_input != nullptr ? model::network_from_option(options.model, *data_input, &set_aside)
                            : model::network_from_option_without_data(options.model, model::tutorial_network().input, &set_aside);
  for (const std::string& note : set_aside) notes << "note: " << note << "\n";
  return spec;
}

model::Shape parse_input_shape(const std::string& text, const std::string& flag) {
  const std::string expected = flag + " '" + text + "': expected CxHxW (channels x height x width), e.g. 1x28x28 or 3x32x32";
  int dims[3] = {0, 0, 0};
  const char* at = text.data();
  const char* const end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    const auto [next, error] = std::from_chars(at, end, dims[i]);
    if (error != std::errc() || next == at || dims[i] < 1) throw Error(expected);
    at = next;
    if (i < 2) {
      if (at == end || *at != 'x') throw Error(expected);
      ++at;
    }
  }
  if (at != end) throw Error(expected);
  return model::Shape{dims[0], dims[1], dims[2]};
}

}  // namespace train_gpu::cli
