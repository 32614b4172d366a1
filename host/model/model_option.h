// What --model names, as a NetworkSpec: "tutorial" (the default: the TensorFlow 2 tutorial's
// network), a Keras JSON file (a path ending in .json; model.to_json() of a keras.Sequential,
// host/model/keras_json.h), or the one-line form (host/model/spec_line.h).
#pragma once

#include <string>
#include <vector>

#include "host/model/network_spec.h"

namespace train_gpu::model {

inline constexpr const char* kTutorialModelOption = "tutorial";

// `data_input` is the data's image shape: "tutorial" and the one-line form are built on it, and a
// JSON's own input must equal it (a JSON without one takes it). "tutorial" on 1x28x28 is exactly
// tutorial_network(); on another shape, the same layers. `notes`, where not null, receives the
// settings a JSON reader set aside (keras_json.h). Errors name --model or the file.
NetworkSpec network_from_option(const std::string& model_option, const Shape& data_input,
                                std::vector<std::string>* notes = nullptr);

// For a command without data (summary): as network_from_option, but a JSON keeps its own input
// shape, and `default_input` serves only the forms that have none.
NetworkSpec network_from_option_without_data(const std::string& model_option, const Shape& default_input,
                                             std::vector<std::string>* notes = nullptr);

}  // namespace train_gpu::model
