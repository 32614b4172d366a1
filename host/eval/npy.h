// NumPy .npy files (format version 1.0), so numpy.load reads what the evaluation writes:
//   "\x93NUMPY" 0x01 0x00, a little-endian uint16 header length, then an ASCII dict such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (32, 26, 26), }
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes (what
// numpy itself writes, so the array can be memory-mapped aligned), then the raw C-order data.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu::eval {

// The bytes before the data: magic, version, header length and the padded dict. `descr` is the
// numpy dtype string ("<f4", "|u1"); a shape of rank 0 is a scalar, "()"; rank 1 is "(n,)".
std::string npy_preamble(const std::string& descr, const std::vector<int64_t>& shape);

// Writes a C-order array of the given shape; the element count is the product of `shape`.
// An Error names the file and the system's reason when it cannot be written.
void write_npy(const std::filesystem::path& file, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::filesystem::path& file, const uint8_t* data, const std::vector<int64_t>& shape);

}  // namespace train_gpu::eval
