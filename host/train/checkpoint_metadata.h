// A train_gpu checkpoint's __metadata__: the strings save_checkpoint writes, the checksum that
// covers them (the data_crc32 covers only the tensor bytes), and each field read back with its
// range checked against what a run could have written. The trainer's own keys ("x.batch_size",
// "x.train_count", "x.partial.*") are checked here too, so that every command that loads a
// checkpoint -- and the trainer's std::stoll/std::stod on them -- sees only values it could have
// produced.
#pragma once

#include <cstddef>
#include <cstdint>

#include <string>

#include "host/train/checkpoint.h"
#include "host/train/safetensors.h"

namespace train_gpu {

inline constexpr const char* kCheckpointFormat = "train_gpu-checkpoint-v1";
inline constexpr const char* kExtraPrefix = "x.";  // keeps the orchestrator's keys apart from ours
inline constexpr const char* kMetadataCrcKey = "metadata_crc32";
// The model itself, as Keras's JSON (host/model/keras_json.h); "model" is its one-line description.
inline constexpr const char* kKerasModelKey = "keras_model";

// zlib's crc32 (the one Python's zlib.crc32 and `gzip` use), in pieces so a writer can checksum
// data as it goes; and a CRC as the 8 lowercase hex digits the metadata stores.
uint32_t crc32_update(uint32_t crc, const void* data, std::size_t size);
std::string hex32(uint32_t value);

// zlib's crc32, as 8 lowercase hex digits, of every entry but metadata_crc32 itself in key order
// (byte order, as std::map and Python's sorted() order them), each entry as its key, a NUL byte,
// its value and a NUL byte. In Python:
//   zlib.crc32(b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(meta.items()) if k != "metadata_crc32"))
std::string metadata_checksum(const safetensors::Metadata& metadata);

// The metadata save_checkpoint writes for `checkpoint` and the crc32 of its tensor data, signed
// with metadata_crc32.
safetensors::Metadata checkpoint_metadata_to_write(const Checkpoint& checkpoint, const std::string& data_crc32);

// Verifies metadata_crc32 where there is one (checkpoints written before it existed have none,
// and are read with every field checked all the same). `where` ("checkpoint FILE: ") starts
// every message.
void verify_metadata_checksum(const safetensors::Metadata& metadata, const std::string& where);

// Reads step (into checkpoint.state.step), epoch, batches_into_epoch, seed, dataset, model and the
// x.* keys (into checkpoint.metadata.extra, without the prefix). Each field must hold what a run
// could have written: an Error "checkpoint FILE: metadata field 'X' is 'abc', expected ..."
// otherwise. The model description is only read here; the caller compares it with this build's.
void read_checkpoint_metadata(const safetensors::Metadata& metadata, const std::string& where, Checkpoint& checkpoint);

}  // namespace train_gpu
