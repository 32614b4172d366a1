// The model as Keras's model.summary() shows it: each layer's name and type, its output shape in
// Keras's (None, H, W, C) form, its parameter count, and the totals, split as Keras splits them
// (BatchNormalization's moving statistics are non-trainable), so that "Total params" equals
// count_params() of the same Keras model.
#pragma once

#include <string>

#include "host/model/network_spec.h"

namespace train_gpu {

std::string model_summary_table(const model::NetworkSpec& spec);

// Keras's form of a layer's output shape: "(None, 26, 26, 32)" for an image, "(None, 128)" flat.
std::string keras_output_shape(const model::Shape& shape, bool image);

}  // namespace train_gpu
