// The one-line --model form (host/model/spec_line.h): every layer and option read as documented,
// spec_line() read back to the same spec, and each mistake one Error naming the item.
#include "host/model/spec_line.h"

#include <gtest/gtest.h>

#include <string>

#include "host/common/error.h"
#include "host/model/keras_json.h"
#include "host/model/model_spec.h"

namespace train_gpu::model {
namespace {

const Shape kMnist{1, 28, 28};
const Shape kCifar{3, 32, 32};

std::string error_of(const std::string& line, const Shape& input = kMnist) {
  try {
    network_from_line(line, input);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(SpecLine, TheTutorialsLineIsTheTutorial) {
  const NetworkSpec spec = network_from_line("conv32k3 relu, maxpool2, flatten, dense128 relu, dense10", kMnist);
  EXPECT_TRUE(spec.is_tutorial());
  EXPECT_EQ(spec.description(), kModelDescription);
  EXPECT_EQ(spec_line(tutorial_network()), "conv32k3 relu, maxpool2, flatten, dense128 relu, dense10");
}

TEST(SpecLine, EveryOptionIsRead) {
  const NetworkSpec spec = network_from_line(
      "conv16k3x5 s2x1 same nobias tanh name=stem, batchnorm momentum=0.9 epsilon=1e-5, sigmoid, avgpool3 s1 same, "
      "maxpool2x3, flatten, dropout0.25, dense10 softmax",
      kCifar);
  ASSERT_EQ(spec.layers.size(), 8u);
  const LayerSpec& conv = spec.layers[0];
  EXPECT_EQ(conv.kind, LayerKind::kConv2D);
  EXPECT_EQ(conv.name, "stem");
  EXPECT_EQ(conv.units, 16);
  EXPECT_EQ(conv.kernel_h, 3);
  EXPECT_EQ(conv.kernel_w, 5);
  EXPECT_EQ(conv.stride_h, 2);
  EXPECT_EQ(conv.stride_w, 1);
  EXPECT_EQ(conv.padding, Padding::kSame);
  EXPECT_FALSE(conv.use_bias);
  EXPECT_EQ(conv.activation, Activation::kTanh);
  EXPECT_EQ(conv.output, (Shape{16, 16, 32}));  // same: ceil(32/2) x ceil(32/1)
  EXPECT_EQ(spec.layers[1].kind, LayerKind::kBatchNorm);
  EXPECT_FLOAT_EQ(spec.layers[1].momentum, 0.9f);
  EXPECT_FLOAT_EQ(spec.layers[1].epsilon, 1e-5f);
  EXPECT_EQ(spec.layers[2].kind, LayerKind::kActivation);
  EXPECT_EQ(spec.layers[2].activation, Activation::kSigmoid);
  EXPECT_EQ(spec.layers[3].kind, LayerKind::kAvgPool2D);
  EXPECT_EQ(spec.layers[3].stride_h, 1);
  EXPECT_EQ(spec.layers[3].output, (Shape{16, 16, 32}));
  EXPECT_EQ(spec.layers[4].kind, LayerKind::kMaxPool2D);
  EXPECT_EQ(spec.layers[4].stride_w, 3) << "pooling strides default to the pool size";
  EXPECT_EQ(spec.layers[4].output, (Shape{16, 8, 10}));
  EXPECT_FLOAT_EQ(spec.layers[6].rate, 0.25f);
  EXPECT_TRUE(spec.softmax_output);
  EXPECT_EQ(spec.layers[1].name, "batch_normalization") << "unnamed layers get Keras's default names";
}

TEST(SpecLine, WhatItWritesReadsBackToTheSameSpec) {
  for (const char* line : {"conv32k3 relu, maxpool2, flatten, dense128 relu, dense10",
                           "conv16k3x5 s2x1 same nobias tanh name=stem, batchnorm momentum=0.9 epsilon=1e-05, sigmoid, "
                           "avgpool3 s1 same, maxpool2x3, flatten, dropout0.25, dense10 softmax",
                           // an explicit name that takes a later layer's default: that one must be written too
                           "conv8k3 name=conv2d_1, conv8k3, conv8k3, flatten, dense10, softmax"}) {
    SCOPED_TRACE(line);
    const NetworkSpec spec = network_from_line(line, kCifar);
    const std::string written = spec_line(spec);
    const NetworkSpec back = network_from_line(written, kCifar);
    EXPECT_EQ(keras_json(back), keras_json(spec)) << written;  // every field, names included
    EXPECT_EQ(spec_line(back), written);
  }
  EXPECT_EQ(spec_line(network_from_line("conv8k3 name=conv2d_1, conv8k3, flatten, dense10", kCifar)),
            "conv8k3 name=conv2d_1, conv8k3 name=conv2d, flatten, dense10");
}

TEST(SpecLine, MistakesAreOneErrorNamingTheItem) {
  EXPECT_EQ(error_of("conv32k3 relu, maxpool2, dens128 relu, dense10"),
            "--model: item 3 'dens128 relu': unknown layer 'dens128'; layers are conv, maxpool, avgpool, flatten, dense, "
            "dropout, batchnorm, relu, tanh, sigmoid, softmax, linear");
  EXPECT_EQ(error_of("conv32 relu, flatten, dense10"),
            "--model: item 1 'conv32 relu': conv needs its filters and kernel, e.g. conv32k3 (32 filters, 3x3)");
  EXPECT_EQ(error_of("conv0k3, flatten, dense10"), "--model: item 1 'conv0k3': filters '0' must be an integer from 1 to 1048576");
  EXPECT_EQ(error_of("conv8k3x, flatten, dense10"), "--model: item 1 'conv8k3x': kernel '' must be an integer from 1 to 1048576");
  EXPECT_EQ(error_of("conv8k3 elu, flatten, dense10"),
            "--model: item 1 'conv8k3 elu': option 'elu' is not one of conv8k3's (name=, s<stride>, same, valid, nobias, "
            "relu, tanh, sigmoid, softmax, linear)");
  EXPECT_EQ(error_of("flatten same, dense10"), "--model: item 1 'flatten same': option 'same' is not one of flatten's (name=)");
  EXPECT_EQ(error_of("conv8k3 relu tanh, flatten, dense10"),
            "--model: item 1 'conv8k3 relu tanh': option 'tanh' sets its activation a second time");
  EXPECT_EQ(error_of("flatten, dropoutx, dense10"), "--model: item 2 'dropoutx': dropout rate 'x' must be a number");
  EXPECT_EQ(error_of("flatten, , dense10"), "--model: item 2 '': empty item; expected a layer such as conv32k3 or dense10");
  EXPECT_EQ(error_of("batchnorm momentum=abc, flatten, dense10"),
            "--model: item 1 'batchnorm momentum=abc': momentum 'abc' must be a number");
  // The network's own rules (build_network) come with --model too.
  EXPECT_EQ(error_of("flatten, dense10 relu"),
            "--model: layer 2 (dense, Dense): the last activation is relu; it must be linear or softmax, since the "
            "model's outputs are the loss's logits");
  EXPECT_EQ(error_of("flatten, dropout1, dense10"),
            "--model: layer 2 (dropout, Dropout): rate 1.000000 must be in [0, 1): the fraction of values dropped");
}

}  // namespace
}  // namespace train_gpu::model
