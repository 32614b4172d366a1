#include "host/data/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <new>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/data/sha256.h"

namespace train_gpu {

namespace fs = std::filesystem;

namespace {

// Deflate's maximum expansion, as in idx_reader.cpp (https://zlib.net/zlib_tech.html).
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr std::size_t kReadBlock = std::size_t{1} << 16;

[[noreturn]] void fail(const fs::path& file, const std::string& what) { throw Error(file.string() + ": " + what); }

// The stored archive, fed to libarchive block by block and hashed on the way.
struct HashingReader {
  fs::path file;
  RegularFile stored;
  Sha256 hasher;
  std::vector<uint8_t> block = std::vector<uint8_t>(kReadBlock);
  std::string error;  // a read failure, reported after libarchive gives up

  static la_ssize_t read(struct archive* archive, void* self_pointer, const void** buffer) {
    (void)archive;
    auto* self = static_cast<HashingReader*>(self_pointer);
    try {
      const std::size_t got = read_up_to(self->stored.descriptor.get(), self->block.data(), self->block.size(), self->file);
      self->hasher.update(self->block.data(), got);
      *buffer = self->block.data();
      return static_cast<la_ssize_t>(got);
    } catch (const Error& read_error) {
      self->error = read_error.what();
      return -1;
    }
  }

  // Hashes what libarchive left unread (padding after the end-of-archive blocks), so the digest
  // covers the whole file.
  std::string finish() {
    for (;;) {
      const std::size_t got = read_up_to(stored.descriptor.get(), block.data(), block.size(), file);
      if (got == 0) break;
      hasher.update(block.data(), got);
    }
    return hasher.hex_digest();
  }
};

struct ArchiveDeleter {
  void operator()(struct archive* archive) const { archive_read_free(archive); }
};

std::string archive_reason(struct archive* archive, const HashingReader& reader) {
  if (!reader.error.empty()) return reader.error;
  const char* reason = archive_error_string(archive);
  return reason != nullptr ? reason : "unknown libarchive error";
}

}  // namespace

ArchiveContents read_tar_archive(const fs::path& file, const std::function<bool(const std::string&)>& wanted) {
  HashingReader reader{file, open_regular_file(file, "a .tar.gz archive"), Sha256(), std::vector<uint8_t>(kReadBlock), ""};
  if (reader.stored.size == 0) fail(file, "empty file (0 bytes), expected a .tar.gz archive");
  const uint64_t decoded_bound = kMaxDeflateRatio * reader.stored.size;

  const std::unique_ptr<struct archive, ArchiveDeleter> archive(archive_read_new());
  if (!archive) fail(file, "libarchive could not start (out of memory?)");
  archive_read_support_filter_gzip(archive.get());
  archive_read_support_filter_none(archive.get());
  archive_read_support_format_tar(archive.get());
  archive_read_support_format_gnutar(archive.get());
  if (archive_read_open(archive.get(), &reader, nullptr, &HashingReader::read, nullptr) != ARCHIVE_OK) {
    fail(file, "not a readable tar archive: " + archive_reason(archive.get(), reader));
  }
  ArchiveContents contents;
  uint64_t decoded_total = 0;
  for (;;) {
    struct archive_entry* entry = nullptr;
    const int status = archive_read_next_header(archive.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      fail(file, "corrupt or truncated archive: " + archive_reason(archive.get(), reader));
    }
    const char* stored_path = archive_entry_pathname(entry);
    const std::string path = stored_path != nullptr ? stored_path : "";
    if (archive_entry_filetype(entry) != AE_IFREG || !wanted(path)) continue;  // skipped by the next header read
    const std::string where = "member " + path + ": ";
    const int64_t claimed = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
    if (claimed < 0) fail(file, where + "no size in its header");
    if (static_cast<uint64_t>(claimed) > decoded_bound - std::min(decoded_total, decoded_bound)) {
      fail(file, where + "its header claims " + std::to_string(claimed) + " bytes, more than the archive's " +
                     std::to_string(reader.stored.size) + " stored bytes can hold (deflate expands data at most 1032:1)");
    }
    // Reserved once at the claim (now possible), filled chunk by chunk: pages are touched only as
    // data arrives, so a member that ends early costs what it held, as in idx_reader.cpp.
    ArchiveMember member{path, {}};
    try {
      member.bytes.reserve(static_cast<std::size_t>(claimed));
    } catch (const std::bad_alloc&) {
      fail(file, where + "its header claims " + std::to_string(claimed) + " bytes, more memory than can be allocated here");
    }
    constexpr std::size_t kChunk = std::size_t{1} << 20;
    while (member.bytes.size() < static_cast<std::size_t>(claimed)) {
      const std::size_t have = member.bytes.size();
      const std::size_t chunk = std::min(static_cast<std::size_t>(claimed) - have, kChunk);
      member.bytes.resize(have + chunk);
      const la_ssize_t got = archive_read_data(archive.get(), member.bytes.data() + have, chunk);
      if (got < 0) fail(file, where + "corrupt or truncated: " + archive_reason(archive.get(), reader));
      member.bytes.resize(have + static_cast<std::size_t>(got));
      if (got == 0) {
        fail(file, where + "truncated: its header claims " + std::to_string(claimed) + " bytes, the archive holds " +
                       std::to_string(have));
      }
    }
    decoded_total += member.bytes.size();
    contents.members.push_back(std::move(member));
  }
  contents.sha256 = reader.finish();
  return contents;
}

}  // namespace train_gpu
