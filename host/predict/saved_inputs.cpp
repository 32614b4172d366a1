#include "host/predict/saved_inputs.h"

#include <system_error>

#include "host/common/error.h"
#include "host/eval/png_image.h"
#include "host/model/model_spec.h"

namespace train_gpu::predict {

namespace fs = std::filesystem;

std::string saved_input_name(size_t position, const std::string& input_name) {
  const size_t bracket = input_name.rfind('[');
  const bool indexed = bracket != std::string::npos && input_name.back() == ']';
  const std::string file = indexed ? input_name.substr(0, bracket) : input_name;
  std::string name = std::to_string(position) + "-" + fs::path(file).stem().string();
  if (indexed) name += "-" + input_name.substr(bracket + 1, input_name.size() - bracket - 2);
  return name + ".png";
}

void prepare_saved_inputs_directory(const fs::path& directory) {
  std::error_code error;
  const fs::file_status status = fs::status(directory, error);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) {
      throw Error("--save-input " + directory.string() + ": exists and is not a directory; name a new or empty directory");
    }
    if (!fs::is_empty(directory, error) || error) {
      throw Error("--save-input " + directory.string() +
                  ": the directory is not empty; name a new or empty one, so no earlier picture is overwritten");
    }
    return;
  }
  fs::create_directories(directory, error);
  if (error) throw Error("--save-input " + directory.string() + ": cannot create the directory: " + error.message());
}

void save_inputs(const fs::path& directory, const std::vector<PredictInput>& inputs) {
  for (size_t position = 0; position < inputs.size(); ++position) {
    const PredictInput& input = inputs[position];
    if (!input.error.empty()) continue;
    const model::Shape& shape = input.shape;
    eval::Image image(shape.width, shape.height, shape.channels == 3 ? 3 : 1);
    // (C, H, W) planes to the PNG's interleaved (H, W, C).
    const std::size_t plane = static_cast<std::size_t>(shape.height) * static_cast<std::size_t>(shape.width);
    for (std::size_t i = 0; i < plane; ++i) {
      for (std::size_t c = 0; c < std::size_t(image.channels); ++c) image.pixels[i * std::size_t(image.channels) + c] = input.pixels[c * plane + i];
    }
    eval::write_png(directory / saved_input_name(position, input.name), image);
  }
}

}  // namespace train_gpu::predict
