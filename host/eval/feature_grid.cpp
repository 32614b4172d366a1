#include "host/eval/feature_grid.h"

#include <algorithm>

#include "host/common/error.h"

namespace train_gpu::eval {

namespace {

constexpr int kTileSide = 104;  // the tutorial's 26 x 4, which its pictures have always had
constexpr int kGridPadding = 4;
constexpr uint8_t kGridBackground = 128;

}  // namespace

void check_feature_maps(const FeatureMaps& maps) {
  if (maps.channels < 1 || maps.height < 1 || maps.width < 1) {
    throw Error("feature maps: " + std::to_string(maps.channels) + "x" + std::to_string(maps.height) + "x" +
                std::to_string(maps.width) + " holds no map");
  }
  const size_t expected = size_t(maps.channels) * size_t(maps.height) * size_t(maps.width);
  if (maps.values.size() != expected) {
    throw Error("feature maps: expected " + std::to_string(expected) + " values, got " + std::to_string(maps.values.size()));
  }
}

int feature_tile_scale(int height, int width) { return std::max(1, kTileSide / std::max(height, width)); }

int feature_grid_columns(int channels) { return std::min(channels, channels > 128 ? 16 : 8); }

int all_zero_maps(const FeatureMaps& maps) {
  check_feature_maps(maps);
  const size_t map_size = size_t(maps.height) * size_t(maps.width);
  int dead = 0;
  for (size_t f = 0; f < size_t(maps.channels); ++f) {
    const auto first = maps.values.begin() + static_cast<std::ptrdiff_t>(f * map_size);
    dead += std::none_of(first, first + static_cast<std::ptrdiff_t>(map_size), [](float v) { return v > 0; }) ? 1 : 0;
  }
  return dead;
}

Image feature_grid(const FeatureMaps& maps) {
  check_feature_maps(maps);
  const size_t map_size = size_t(maps.height) * size_t(maps.width);
  const int scale = feature_tile_scale(maps.height, maps.width);
  std::vector<Image> tiles;
  for (size_t f = 0; f < size_t(maps.channels); ++f) {
    tiles.push_back(upscale(normalized_grayscale(maps.values.data() + f * map_size, maps.width, maps.height), scale));
  }
  return tile_grid(tiles, feature_grid_columns(maps.channels), kGridPadding, kGridBackground);
}

}  // namespace train_gpu::eval
