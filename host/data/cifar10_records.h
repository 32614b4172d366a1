// CIFAR-10's binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"): a
// batch file is records of 1 label byte (0..9) then 3072 pixel bytes, the 32x32 red plane, then
// green, then blue, each row-major. That is exactly ImageSet's NCHW layout, so records are copied
// as they are. batches.meta.txt names the classes, one per line. Parsing works on bytes already
// read (cifar10_dataset.h reads files and archive members), so the fuzz target reaches every check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/image_set.h"

namespace train_gpu {

constexpr int kCifar10Channels = 3;
constexpr int kCifar10Side = 32;
constexpr int kCifar10Classes = 10;
constexpr std::size_t kCifar10RecordBytes = 1 + std::size_t{kCifar10Channels} * kCifar10Side * kCifar10Side;  // 3073

// Appends the records of one batch file's bytes to `set` (whose shape must be CIFAR-10's, as
// cifar10_image_set() makes it). `name` names the file in the errors: an empty file, a size that
// is not a multiple of 3073 bytes, a label over 9.
void append_cifar10_records(const uint8_t* bytes, std::size_t size, const std::string& name, ImageSet& set);

// An empty ImageSet of CIFAR-10's shape: 3x32x32 in 10 classes.
ImageSet cifar10_image_set();

// The ten class names of a batches.meta.txt: one per line, trailing blank lines and '\r' and
// spaces at line ends ignored. Anything but ten non-empty UTF-8 names is an Error naming `name`.
std::vector<std::string> parse_cifar10_class_names(const std::string& text, const std::string& name);

}  // namespace train_gpu
