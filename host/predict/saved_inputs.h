// predict --save-input DIR: the picture each prediction saw, the model's input as an 8-bit PNG
// (grayscale for 1 channel, RGB for 3; 28x28 for the tutorial), so that a user can see what the
// preprocessing made of a photo (for the tutorial: light digit on black, as MNIST).
// Files are named POSITION-NAME.png: the input's position in predict's output, every image and
// every error counted (which keeps two inputs of one name apart) and its name without the extension, an index as
// "-INDEX" ("digit.jpg" -> "0-digit.png", "t10k-images-idx3-ubyte.gz[7]" ->
// "1-t10k-images-idx3-ubyte-7.png").
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "host/predict/predict_inputs.h"

namespace train_gpu::predict {

std::string saved_input_name(size_t position, const std::string& input_name);

// Creates `directory` (and its parents) or accepts an existing empty one; anything else -- a
// file there, a directory that already holds files -- is an Error naming it, so that a second
// run never mixes with or overwrites the first one's pictures. Call before predicting.
void prepare_saved_inputs_directory(const std::filesystem::path& directory);

// Writes the inputs that have pixels (those without errors) into `directory`.
void save_inputs(const std::filesystem::path& directory, const std::vector<PredictInput>& inputs);

}  // namespace train_gpu::predict
