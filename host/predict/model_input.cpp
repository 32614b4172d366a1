#include "host/predict/model_input.h"

#include <algorithm>
#include <cmath>

#include "host/common/error.h"
#include "host/predict/digit_normalizer.h"

namespace train_gpu::predict {

namespace {

// Bilinear along x of each row: out_width >= width. Output pixel o's centre (o + 0.5) lies at
// (o + 0.5) * width / out_width in the input, between the two nearest input centres.
std::vector<float> grow_rows(const std::vector<float>& plane, int width, int height, int out_width) {
  std::vector<float> out(static_cast<size_t>(out_width) * static_cast<size_t>(height));
  const double scale = double(width) / double(out_width);
  for (int o = 0; o < out_width; ++o) {
    const double centre = std::clamp((o + 0.5) * scale - 0.5, 0.0, double(width - 1));
    const int left = static_cast<int>(std::floor(centre));
    const int right = std::min(left + 1, width - 1);
    const float t = static_cast<float>(centre - left);
    for (int y = 0; y < height; ++y) {
      const float* row = plane.data() + static_cast<size_t>(y) * static_cast<size_t>(width);
      out[static_cast<size_t>(y) * static_cast<size_t>(out_width) + static_cast<size_t>(o)] = row[left] * (1.0f - t) + row[right] * t;
    }
  }
  return out;
}

std::vector<float> transposed(const std::vector<float>& plane, int width, int height) {
  std::vector<float> out(plane.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      out[static_cast<size_t>(x) * static_cast<size_t>(height) + static_cast<size_t>(y)] =
          plane[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)];
    }
  }
  return out;
}

std::string method_text(int from, int to) { return from > to ? "area averaging" : from < to ? "bilinear" : "kept"; }

uint8_t to_byte(float value) { return static_cast<uint8_t>(std::lround(std::clamp(value, 0.0f, 255.0f))); }

}  // namespace

std::vector<float> resize_plane(const std::vector<float>& plane, int width, int height, int out_width, int out_height) {
  // Shrink first (area averaging, digit_normalizer's resampler), then grow what is left to grow.
  const int mid_width = std::min(width, out_width);
  const int mid_height = std::min(height, out_height);
  std::vector<float> mid = mid_width == width && mid_height == height
                               ? plane
                               : resample_area(plane, width, 0, 0, width, height, mid_width, mid_height);
  if (out_width > mid_width) mid = grow_rows(mid, mid_width, mid_height, out_width);
  if (out_height > mid_height) mid = transposed(grow_rows(transposed(mid, out_width, mid_height), mid_height, out_width, out_height),
                                                out_height, out_width);
  return mid;
}

ModelPicture picture_for_model(const RgbaPicture& picture, const model::Shape& input) {
  if (input.channels != 1 && input.channels != 3) {
    throw Error("the model takes " + std::to_string(input.channels) +
                "-channel images; predict makes pictures into 1 (gray) or 3 (RGB) channels");
  }
  if (picture.width < 1 || picture.height < 1) throw Error("the picture has no pixels");
  ModelPicture result;
  if (!picture.turned.empty()) result.steps.push_back(picture.turned);
  const std::string size = std::to_string(picture.width) + "x" + std::to_string(picture.height);
  std::string read = size + (picture.colour ? " colour" : " grayscale") + (picture.alpha ? " with alpha (dropped)" : "");
  if (input.channels == 1 && picture.colour) read += " -> gray by luma (0.299 R + 0.587 G + 0.114 B)";
  if (input.channels == 3 && !picture.colour) read += " -> RGB, the gray replicated";
  result.steps.push_back(read);

  const size_t count = static_cast<size_t>(picture.width) * static_cast<size_t>(picture.height);
  std::vector<std::vector<float>> planes(static_cast<size_t>(input.channels), std::vector<float>(count));
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = picture.pixels.data() + 4 * i;
    if (input.channels == 1) {
      planes[0][i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    } else {
      for (size_t c = 0; c < 3; ++c) planes[c][i] = p[c];
    }
  }
  result.steps.push_back("resized to " + std::to_string(input.width) + "x" + std::to_string(input.height) + " (width " +
                         method_text(picture.width, input.width) + ", height " + method_text(picture.height, input.height) +
                         "), pixels / 255 as in training");
  for (const std::vector<float>& plane : planes) {
    for (const float value : resize_plane(plane, picture.width, picture.height, input.width, input.height)) {
      result.pixels.push_back(to_byte(value));
    }
  }
  return result;
}

}  // namespace train_gpu::predict
