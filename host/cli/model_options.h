// --model, declared once for the commands that build a model (summary now; train and bench once
// the backends run any spec): tutorial (the default), a Keras JSON file, or the one-line form.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>

#include "host/model/network_spec.h"

namespace train_gpu::cli {

struct ModelOptions {
  std::string model = "tutorial";
};

void add_model_option(CLI::App& command, ModelOptions& options);

// The spec --model names, built on the data's image shape (model_option.h); without data
// (`data_input` null, as for summary) a JSON keeps its own input and the other forms are built on
// MNIST's 1x28x28. Each setting the Keras reader set aside is printed to `notes` as "note: ...".
model::NetworkSpec network_from_options(const ModelOptions& options, const model::Shape* data_input, std::ostream& notes);

// "CxHxW" (e.g. 3x32x32) -> the shape; anything else is an Error naming `flag`.
model::Shape parse_input_shape(const std::string& text, const std::string& flag);

}  // namespace train_gpu::cli
