// The confusion matrix as a picture (for TensorBoard's Images dashboard): one square cell per
// (true, predicted) pair, rows true classes and columns predicted ones as in confusion.h, each
// cell shaded by its share of the row (white 0 to dark blue 1, so the diagonal shows recall) and
// labelled with its count. Class indices run along the top and the left; the corner reads "T>P"
// (true, then predicted), as the mistakes picture's labels do.
#pragma once

#include <string>

#include "host/eval/confusion.h"
#include "host/eval/png_image.h"

namespace train_gpu::eval {

// An RGB image of (classes + 1) x (classes + 1) cells of 36 pixels (the first row and column
// are the labels), with `caption` (which checkpoint: evaluated_checkpoint.h's figure_caption) in
// a strip below when it is not empty.
Image confusion_picture(const ConfusionMatrix& confusion, const std::string& caption = "");

}  // namespace train_gpu::eval
