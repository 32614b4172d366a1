// Replacing a file so that a crash, a full disk or a kill at any moment leaves either the old
// contents or the new ones, never a torn mix: the bytes go to a temporary file in the same
// directory (rename is only atomic within one filesystem), which is fsynced, renamed over the
// target, and then the directory is fsynced so the rename itself survives a power loss.
#pragma once

#include <cstddef>
#include <filesystem>

namespace train_gpu {

// Writes `size` bytes at `data` to `file`, atomically as above. A symbolic link at `file` is
// followed to the end of its chain, and that target is replaced (the temporary lies beside it);
// the links stay links, and a dangling one gets its target created. An existing target keeps its
// permission bits; a new file gets mode 0666 minus the umask. A target that exists but is not a
// regular file (a directory, a FIFO, a device such as /dev/null, a socket, or what /dev/stdout
// leads to: a terminal or a pipe) is refused with an Error naming it, before anything is written.
// On failure before the rename, the temporary file is removed, `file` is left as it was, and an
// Error names the path and the system's reason. A failed fsync of the directory after the rename
// also throws, saying the new file is in place but may not survive a power loss.
//
// SIGINT, SIGTERM and SIGHUP are held from the temporary's creation until it is renamed or
// removed (host/common/held_signals.h): one arriving meanwhile takes effect once the new file is
// in place, so only SIGKILL (or a crash) can leave a temporary, which remove_stale_temporaries
// clears later.
//
// TEST-ONLY: with the environment variable TRAIN_GPU_TEST_PAUSE_WRITING="NAME:MARKER", a write of a
// file named NAME (e.g. "epoch-002.safetensors") stops the process (SIGSTOP) once half of its bytes
// are in the temporary, after creating the file MARKER holding the temporary's path; it goes on
// when continued (SIGCONT). The kill tests use it to signal a process inside a save; a user has no
// reason to set it.
void write_file_atomically(const std::filesystem::path& file, const void* data, std::size_t size);

// Deletes the temporaries (".name.tmp-<pid>-<n>") in `directory` whose writing process no longer
// exists: what a kill -9 in the middle of a save leaves behind (a checkpoint's is 8 MB). Files of
// live processes and everything else are left alone. Returns how many were removed; errors are
// ignored, since a leftover temporary is only wasted space.
int remove_stale_temporaries(const std::filesystem::path& directory);

}  // namespace train_gpu
