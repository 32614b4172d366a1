// The feature maps of one Conv2D layer for one image, as `features` writes them, and their
// picture: each map normalized to 0..255 on its own, upscaled by a whole factor so that a tile
// is about 104 pixels (the tutorial's 26x26 maps: 4x), laid out in rows of up to 8 (16 beyond
// 128 maps) with 4 pixels of mid-gray between them. Independent of where the maps come from
// (a backend's activations of any layer of any spec).
#pragma once

#include <string>
#include <vector>

#include "host/eval/png_image.h"

namespace train_gpu::eval {

struct FeatureMaps {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> values;  // (channels, height, width)
  std::string layer;          // the layer's name when it is not the model's first Conv2D (the
                              // default, whose files keep their names), else empty
};

// An Error when `values` is not channels x height x width or there are no maps.
void check_feature_maps(const FeatureMaps& maps);

// The upscale factor of a map of this size: a whole number, at least 1.
int feature_tile_scale(int height, int width);

// Columns of the grid for `channels` maps.
int feature_grid_columns(int channels);

// Maps whose every value is zero or less (a dead ReLU channel for this image).
int all_zero_maps(const FeatureMaps& maps);

Image feature_grid(const FeatureMaps& maps);

}  // namespace train_gpu::eval
