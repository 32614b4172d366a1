// The one-line model form of --model, for quick experiments: layers separated by commas, each a
// layer word with its size glued on, then options separated by spaces. The tutorial's network:
//   conv32k3 relu, maxpool2, flatten, dense128 relu, dense10
// Layers and their options:
//   conv<F>k<K>[x<K2>]       F filters, a KxK (or KxK2) kernel; s<S>[x<S2>] strides, same|valid,
//                            nobias, an activation (relu, tanh, sigmoid, softmax, linear)
//   maxpool<P>[x<P2>]        pooling windows; s<S>[x<S2>] strides (default: the pool size),
//   avgpool<P>[x<P2>]        same|valid
//   flatten
//   dense<U>                 U units; nobias, an activation
//   dropout<R>               the fraction R in [0, 1) dropped in training
//   batchnorm                momentum=<M> (0.99), epsilon=<E> (0.001), Keras's meanings
//   relu tanh sigmoid softmax linear   an activation layer
// Every layer takes name=<name> (Keras's default names otherwise: conv2d, conv2d_1, dense, ...).
// Padding is valid unless `same` (TensorFlow's same: output = ceil(input / stride)).
#pragma once

#include <string>

#include "host/model/network_spec.h"

namespace train_gpu::model {

// Parses the line and builds it on `input`. Each problem is an Error naming the item and its
// position: "--model: item 3 'dens128': unknown layer 'dens128'; layers are conv, maxpool, ...".
NetworkSpec network_from_line(const std::string& line, const Shape& input);

// The line that network_from_line() reads back into the same spec (given the spec's input):
// only options that differ from the defaults, names only where they are not the defaults.
std::string spec_line(const NetworkSpec& spec);

}  // namespace train_gpu::model
