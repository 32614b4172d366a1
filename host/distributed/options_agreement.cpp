#include "host/distributed/options_agreement.h"

#include <cstdint>
#include <vector>

#include "host/common/error.h"
#include "host/data/sha256.h"

namespace train_gpu::distributed {

void require_same_options(Collectives& collectives, const std::string& resolved_options) {
  // The first 64 bits of the text's SHA-256: one value per rank travels, whatever the text's size.
  const std::string digest = sha256_hex(resolved_options.data(), resolved_options.size());
  const uint64_t fingerprint = std::stoull(digest.substr(0, 16), nullptr, 16);
  const std::vector<uint64_t> fingerprints = collectives.gather(fingerprint, "comparing the ranks' options");
  // Rank 0 alone says so and ends the job (the caller aborts on an Error): one line, not one per rank.
  if (collectives.rank() != 0) return;
  for (std::size_t rank = 1; rank < fingerprints.size(); ++rank) {
    if (fingerprints[rank] != fingerprints[0]) {
      throw Error("rank " + std::to_string(rank) + " of " + std::to_string(fingerprints.size()) +
                  " was started with other options than rank 0 (model, data, batch, seed, optimizer or run "
                  "directory differ): launch every rank with the same command line and data");
    }
  }
}

}  // namespace train_gpu::distributed
