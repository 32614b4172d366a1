// Reading NumPy .npy files (formats 1.0, 2.0 and 3.0; the layout is in npy.h, the writer's
// header), for arrays a user hands to `predict`. Only what such arrays hold is understood:
// C-order uint8, float32 and float64, little-endian. Nothing in the header is trusted before it
// is checked against the file's size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu::eval {

struct NpyArray {
  std::string descr;           // "|u1", "<f4" or "<f8"
  std::vector<int64_t> shape;  // () for a scalar
  std::vector<double> values;  // every element in C order, converted exactly to double
};

// Reads `file` whole. A file that is not .npy, a malformed header, Fortran order, another dtype or
// a data section of the wrong length is an Error naming the file and the fault.
NpyArray read_npy(const std::filesystem::path& file);

// The same from bytes in memory; `source` names them in errors.
NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source);

}  // namespace train_gpu::eval
