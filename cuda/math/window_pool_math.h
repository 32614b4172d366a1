// General 2-D pooling (MaxPooling2D, AveragePooling2D: any window, strides, valid or TensorFlow's
// same padding) per element, shared by the GPU kernels (cuda/network/pooling_layer.cu) and the
// CPU tests, which compare it with the CPU backend's oneDNN pooling (tests/window_pool_math_test.cpp).
//
// Output (oy, ox) covers input rows oy*stride_h - pad_top + [0, kernel_h), clipped to the image,
// and likewise columns. Keras's semantics for padded cells, as oneDNN's pooling_max and
// pooling_avg_exclude_padding (the CPU backend's) have them:
//   max:      the largest value of the window's cells inside the image; the winner is the FIRST
//             maximum in row-major window order, its index (y * width + x in the plane) kept for
//             backward;
//   average:  the mean over the window's cells inside the image (padding left out of the count).
// Backward is written as a gather, one input cell at a time, so it needs no atomics and is
// deterministic: input (y, x) receives from every output whose window holds it,
//   max:      doutput[o] when o's winner is (y, x);
//   average:  doutput[o] / cells(o).
// TensorFlow's same padding never yields a window without a cell inside the image (its padding
// is less than the window on each side), so every window has a winner and a nonzero count.
#pragma once

#include "cuda/math/host_device.h"

namespace train_gpu::math {

struct PoolGeometry {
  int in_h = 0, in_w = 0;    // the input plane
  int out_h = 0, out_w = 0;  // the output plane
  int kernel_h = 0, kernel_w = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
};

// [begin, end) of a window along one axis, clipped to [0, size).
struct WindowRange {
  int begin;
  int end;
};

TG_HOST_DEVICE WindowRange pool_window(int out_index, int stride, int pad, int kernel, int size) {
  const int start = out_index * stride - pad;
  return WindowRange{start < 0 ? 0 : start, start + kernel > size ? size : start + kernel};
}

// The outputs whose windows hold input index `in_index` along one axis: [begin, end).
TG_HOST_DEVICE WindowRange pool_outputs_covering(int in_index, int stride, int pad, int kernel, int out_size) {
  // o covers i when o*stride - pad <= i < o*stride - pad + kernel.
  const int shifted = in_index + pad;
  const int last = shifted / stride;  // the largest o with o*stride <= i + pad
  const int low = shifted - kernel + 1;
  const int first = low <= 0 ? 0 : (low + stride - 1) / stride;  // the smallest o with o*stride > i + pad - kernel
  return WindowRange{first, last + 1 > out_size ? out_size : last + 1};
}

struct PoolMax {
  float value;
  int winner;  // y * in_w + x of the first maximum
};

TG_HOST_DEVICE PoolMax max_pool_window(const float* plane, const PoolGeometry& g, int oy, int ox) {
  const WindowRange rows = pool_window(oy, g.stride_h, g.pad_top, g.kernel_h, g.in_h);
  const WindowRange cols = pool_window(ox, g.stride_w, g.pad_left, g.kernel_w, g.in_w);
  PoolMax best{plane[rows.begin * g.in_w + cols.begin], rows.begin * g.in_w + cols.begin};
  for (int y = rows.begin; y < rows.end; ++y) {
    for (int x = cols.begin; x < cols.end; ++x) {
      const float value = plane[y * g.in_w + x];
      if (value > best.value) best = PoolMax{value, y * g.in_w + x};
    }
  }
  return best;
}

TG_HOST_DEVICE int pool_window_cells(const PoolGeometry& g, int oy, int ox) {
  const WindowRange rows = pool_window(oy, g.stride_h, g.pad_top, g.kernel_h, g.in_h);
  const WindowRange cols = pool_window(ox, g.stride_w, g.pad_left, g.kernel_w, g.in_w);
  return (rows.end - rows.begin) * (cols.end - cols.begin);
}

TG_HOST_DEVICE float average_pool_window(const float* plane, const PoolGeometry& g, int oy, int ox) {
  const WindowRange rows = pool_window(oy, g.stride_h, g.pad_top, g.kernel_h, g.in_h);
  const WindowRange cols = pool_window(ox, g.stride_w, g.pad_left, g.kernel_w, g.in_w);
  float sum = 0.0f;
  for (int y = rows.begin; y < rows.end; ++y) {
    for (int x = cols.begin; x < cols.end; ++x) sum += plane[y * g.in_w + x];
  }
  return sum / float((rows.end - rows.begin) * (cols.end - cols.begin));
}

// d loss / d input (y, x) of one plane, from the output gradient plane and (max) the winners.
TG_HOST_DEVICE float max_pool_input_gradient(const float* doutput, const int* winners, const PoolGeometry& g, int y,
                                             int x) {
  const WindowRange rows = pool_outputs_covering(y, g.stride_h, g.pad_top, g.kernel_h, g.out_h);
  const WindowRange cols = pool_outputs_covering(x, g.stride_w, g.pad_left, g.kernel_w, g.out_w);
  const int self = y * g.in_w + x;
  float sum = 0.0f;
  for (int oy = rows.begin; oy < rows.end; ++oy) {
    for (int ox = cols.begin; ox < cols.end; ++ox) {
      if (winners[oy * g.out_w + ox] == self) sum += doutput[oy * g.out_w + ox];
    }
  }
  return sum;
}

TG_HOST_DEVICE float average_pool_input_gradient(const float* doutput, const PoolGeometry& g, int y, int x) {
  const WindowRange rows = pool_outputs_covering(y, g.stride_h, g.pad_top, g.kernel_h, g.out_h);
  const WindowRange cols = pool_outputs_covering(x, g.stride_w, g.pad_left, g.kernel_w, g.out_w);
  float sum = 0.0f;
  for (int oy = rows.begin; oy < rows.end; ++oy) {
    for (int ox = cols.begin; ox < cols.end; ++ox) {
      sum += doutput[oy * g.out_w + ox] / float(pool_window_cells(g, oy, ox));
    }
  }
  return sum;
}

}  // namespace train_gpu::math
