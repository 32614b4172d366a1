// --dataset folder: a set of one's own as a folder of pictures, in the layout Keras's
// image_dataset_from_directory reads:
//   DIR/train/<class>/*.png|*.jpg|*.jpeg   (any depth below the class folder)
//   DIR/test/<class>/...
// Classes are the train/ subfolders in sorted (byte) order, as Keras sorts them; test/ must have
// the same ones. Files are read in sorted order of their path within the class folder; other
// files are skipped (as Keras skips them). Pictures are decoded by the PNG and JPEG readers that
// `predict` uses (host/predict/png_input.h, jpeg_input.h: any PNG, gray or YCbCr/RGB JPEG).
// The first train picture decides the set: its size (every picture must have it) and its
// channels: gray (1) or colour (3; alpha dropped, palettes expanded). A picture of the other kind
// is converted to the first's: gray copied to R, G and B, or RGB to gray by ITU-R BT.601 luma
// (0.299 R + 0.587 G + 0.114 B, what tf.image.rgb_to_grayscale computes).
#pragma once

#include <filesystem>

#include "host/data/dataset.h"

namespace train_gpu {

Dataset load_image_folder_dataset(const std::filesystem::path& directory, DatasetSplits splits);

}  // namespace train_gpu
