// The feature-map picture of `features` for maps of any count and size (host/eval/feature_grid.h)
// and the choice of the Conv2D layer it shows (host/eval/activation_maps.h), on maps and specs
// made here; `train_gpu features --layer` itself is in evaluate_command_test.cpp.
#include "host/eval/feature_grid.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/eval/activation_maps.h"
#include "host/model/model_spec.h"
#include "support/example_networks.h"
#include "support/test_support.h"

namespace train_gpu::eval {
namespace {

namespace t = train_gpu::testing;

FeatureMaps ramp_maps(int channels, int height, int width) {
  FeatureMaps maps{channels, height, width, {}, ""};
  for (int i = 0; i < channels * height * width; ++i) maps.values.push_back(float(i % 7));
  return maps;
}

// Tiles are upscaled to about 104 pixels by a whole factor, with 4 pixels between and around
// them, in rows of 8 (16 beyond 128 maps): the grid's size follows from the maps' shape.
TEST(FeatureGrid, SizeFollowsTheMapsCountAndSize) {
  const struct {
    int channels, height, width, scale, columns;
  } cases[] = {
      {32, 26, 26, 4, 8},   // the tutorial: 4 rows of 8 tiles of 104 pixels, as its pictures always were
      {64, 11, 11, 9, 8},   // 104 / 11 = 9.45 -> 9
      {200, 5, 5, 20, 16},  // more than 128 maps: rows of 16
      {3, 40, 60, 1, 3},    // the larger side decides; fewer maps than a row
      {2, 300, 300, 1, 2},  // larger than a tile: shown as they are
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.channels) + " maps of " + std::to_string(c.height) + "x" + std::to_string(c.width));
    EXPECT_EQ(feature_tile_scale(c.height, c.width), c.scale);
    EXPECT_EQ(feature_grid_columns(c.channels), c.columns);
    const Image grid = feature_grid(ramp_maps(c.channels, c.height, c.width));
    const int rows = (c.channels + c.columns - 1) / c.columns;
    EXPECT_EQ(grid.width, 4 + c.columns * (c.width * c.scale + 4));
    EXPECT_EQ(grid.height, 4 + rows * (c.height * c.scale + 4));
    EXPECT_EQ(grid.channels, 1);
  }
}

// Each map is normalized on its own (its min black, its max white; a constant map black), and
// map f sits in column f % columns.
TEST(FeatureGrid, EachMapIsNormalizedOnItsOwnTile) {
  const FeatureMaps maps{2, 1, 2, {0.0f, 0.5f, 5.0f, 5.0f}, ""};  // scale 52: tiles 104 x 52
  const Image grid = feature_grid(maps);
  EXPECT_EQ(*grid.at(4, 4), 0);
  EXPECT_EQ(*grid.at(4 + 52, 4), 255) << "map 0's max";
  EXPECT_EQ(*grid.at(4 + 104 + 4, 4), 0) << "map 1 is constant: black";
  EXPECT_EQ(*grid.at(2, 2), 128) << "the gray between tiles";
}

TEST(FeatureGrid, AllZeroMapsAndBadShapes) {
  const FeatureMaps maps{3, 1, 2, {0.0f, -1.0f, 0.0f, 0.25f, -2.0f, -3.0f}, ""};
  EXPECT_EQ(all_zero_maps(maps), 2) << "no positive value: maps 0 and 2";
  t::expect_contains(t::error_of([] { feature_grid(FeatureMaps{2, 3, 3, std::vector<float>(17), ""}); }),
                     "expected 18 values, got 17");
  t::expect_contains(t::error_of([] { feature_grid(FeatureMaps{0, 3, 3, {}, ""}); }), "0x3x3 holds no map");
}

TEST(FeatureLayer, ByPositionOrNameAndOnlyAConv2D) {
  const model::NetworkSpec spec = t::cifar_batchnorm_network();
  EXPECT_EQ(feature_layer_index(spec, ""), 0) << "the first Conv2D";
  EXPECT_EQ(feature_layer_index(spec, "4"), 3);
  EXPECT_EQ(feature_layer_index(spec, "conv2d_3"), 3);
  t::expect_contains(t::error_of([&] { feature_layer_index(spec, "2"); }),
                     "--layer 2: layer 2 (batch_normalization) is a BatchNormalization, not a Conv2D; the Conv2D layers "
                     "are 1 (conv2d_2), 4 (conv2d_3)");
  t::expect_contains(t::error_of([&] { feature_layer_index(spec, "14"); }), "--layer 14: no such layer (positions 1..13)");
  t::expect_contains(t::error_of([&] { feature_layer_index(spec, "0"); }), "--layer 0: no such layer");
  t::expect_contains(t::error_of([&] { feature_layer_index(spec, "conv9"); }), "--layer conv9: no such layer (by name)");
  const model::NetworkSpec dense_only = model::build_network({8, 1, 1}, {t::dense_layer("out", 3, model::Activation::kLinear)});
  t::expect_contains(t::error_of([&] { feature_layer_index(dense_only, ""); }), "the model has no Conv2D layer");
}

// The maps of the chosen Conv2D come from the backend's per-layer maps; only the first Conv2D's
// files keep their old names, and a layer the backend gave no maps of is one error.
TEST(FeatureLayer, TheChosenConvolutionsMapsFromTheBackend) {
  const model::NetworkSpec cifar = t::cifar_batchnorm_network();
  std::vector<int> convs;
  for (std::size_t i = 0; i < cifar.layers.size(); ++i) {
    if (cifar.layers[i].kind == model::LayerKind::kConv2D) convs.push_back(int(i));
  }
  ASSERT_GE(convs.size(), 2u);
  ImageActivations activations;
  for (const int layer : convs) {
    const model::Shape& shape = cifar.layers[std::size_t(layer)].output;
    activations.conv_layers.push_back(ConvMaps{layer, shape, std::vector<float>(std::size_t(shape.size()), float(layer))});
  }
  const FeatureMaps first = feature_maps_of(activations, cifar, feature_layer_index(cifar, ""));
  EXPECT_EQ(first.layer, "") << "the default layer: the files keep their names";
  EXPECT_EQ(first.values.front(), float(convs[0]));
  const FeatureMaps second = feature_maps_of(activations, cifar, convs[1]);
  EXPECT_EQ(second.layer, cifar.layers[std::size_t(convs[1])].name);
  EXPECT_EQ(second.channels, cifar.layers[std::size_t(convs[1])].output.channels);
  EXPECT_EQ(second.values.front(), float(convs[1]));
  activations.conv_layers.pop_back();
  t::expect_contains(t::error_of([&] { feature_maps_of(activations, cifar, convs[1]); }), "the backend gave no maps of layer");
}

}  // namespace
}  // namespace train_gpu::eval
