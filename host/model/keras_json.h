// A model given as Keras writes it: the JSON of `model.to_json()` for a keras.Sequential, read
// into a NetworkSpec, and a NetworkSpec written back as that JSON (Keras 3's format), which
// keras.models.model_from_json rebuilds into the same architecture. A user designs a network in
// Keras and trains it here; tools/to_keras.py takes it back with its weights.
//
// Read: Keras 3's form ({"module": "keras", "class_name": "Sequential", "config": {"layers":
// [{"class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28, 1]}}, ...]}}) and Keras
// 2's (the input as "batch_input_shape" on the first layer or on an InputLayer; "config" a dict
// holding "layers", or the list itself). Layers: InputLayer, Conv2D, MaxPooling2D,
// AveragePooling2D, Flatten, Dense, Dropout, BatchNormalization, Activation, ReLU, Softmax, and a
// Reshape that provably changes nothing (its target is its input's shape, or it turns a
// one-channel input into (H, W, 1), the same bytes). Every option is read and checked; anything
// that would make the model train differently from what Keras would (dilation, groups, frozen
// layers, regularizers, constraints, another dtype) is an Error naming the layer and the option.
// Initializers other than Keras's defaults are the one thing set aside: training here starts
// from Keras's default initializers, and each such setting becomes a note.
#pragma once

#include <string>
#include <vector>

#include "host/model/network_spec.h"

namespace train_gpu::model {

// `source` names the JSON in every error ("net.json: layer 3 'conv2d_1' (Conv2D): dilation_rate
// [2, 2] is not supported; only 1"). The input shape is the JSON's (converted from Keras's
// (H, W, C) or, with data_format channels_first, (C, H, W)); `data_input`, where not null, is
// the data's and must equal it, and is the input when the JSON gives none. `notes`, where not
// null, receives one line per setting that was set aside (non-default initializers).
NetworkSpec network_from_keras_json(const std::string& json_text, const std::string& source, const Shape* data_input,
                                    std::vector<std::string>* notes = nullptr);

// What keras.Sequential(...).to_json() writes for the spec: Keras 3's format, channels_last, every
// option Keras writes with the values the spec holds (softmax on the last layer where the source
// had it), on one line as to_json() gives it.
std::string keras_json(const NetworkSpec& spec);

}  // namespace train_gpu::model
