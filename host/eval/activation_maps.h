// Which Conv2D layer `features --layer` shows, and that layer's maps out of a backend's
// ImageActivations for one image.
#pragma once

#include <string>

#include "host/eval/feature_grid.h"
#include "host/model/backend.h"
#include "host/model/network_spec.h"

namespace train_gpu::eval {

// The index into spec.layers of the Conv2D `choice` names: empty for the first Conv2D, a 1-based
// layer position ("3"), or a layer name ("conv2d_1"). Anything else -- no such layer, a layer
// that is not a Conv2D, a spec without one -- is an Error listing the Conv2D layers there are.
int feature_layer_index(const model::NetworkSpec& spec, const std::string& choice);

// Layer `layer`'s maps (after its activation) from `activations`. Backends give the first
// Conv2D's maps (ImageActivations::conv_relu); another layer is an Error until they give more.
FeatureMaps feature_maps_of(const ImageActivations& activations, const model::NetworkSpec& spec, int layer);

}  // namespace train_gpu::eval
