// Members of a tar archive (gzipped or not), read through libarchive: CIFAR-10 is published as
// cifar-10-binary.tar.gz, and reading it in place saves unpacking 180 MB. The archive is opened
// with open_regular_file (a FIFO is refused) and hashed as libarchive reads it, so its sha256
// costs no second pass. Nothing a member's header claims is trusted: a member's bytes are read in
// chunks and must come to exactly its stated size, and no member is allowed to claim more than
// the archive can hold (1032 times its stored size, deflate's largest expansion), so a crafted
// header cannot make us allocate more than the data could fill.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace train_gpu {

struct ArchiveMember {
  std::string path;            // as stored, e.g. "cifar-10-batches-bin/data_batch_1.bin"
  std::vector<uint8_t> bytes;
};

struct ArchiveContents {
  std::vector<ArchiveMember> members;  // the wanted regular-file members, in archive order
  std::string sha256;                  // of the archive file as stored
};

// Reads the regular-file members of `file` whose stored path `wanted` accepts; the others are
// skipped without being kept. An unreadable or corrupt archive, or a member whose data ends early
// or claims too much, is an Error "FILE: ..." (naming the member where there is one).
ArchiveContents read_tar_archive(const std::filesystem::path& file, const std::function<bool(const std::string&)>& wanted);

}  // namespace train_gpu
