// Every rank of a job must train the same thing: the same model, data, batch, seed, optimizer
// and run. A rank launched with other options (an MPMD command line, another data directory on
// one node) would all-reduce gradients of another model or batches, silently; this check, at
// start, refuses that with one line naming the first rank that differs.
#pragma once

#include <string>

#include "host/distributed/collectives.h"

namespace train_gpu::distributed {

// `resolved_options`: this rank's settings after defaults and resume were applied, as text.
// Collective; rank 0 throws an Error naming the first rank whose text differs from its own (the
// caller then ends the job; the other ranks are ended with it).
void require_same_options(Collectives& collectives, const std::string& resolved_options);

}  // namespace train_gpu::distributed
