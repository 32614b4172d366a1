// One pass's totals over all ranks: each rank's backend counted its own slice of every batch, so
// losses, samples, correct predictions and the confusion matrix add up across ranks (a rank's
// batch loss is its share of the GLOBAL batch's mean, so those add up too); the batch count is
// the largest any rank counted (every rank takes every step), and the first non-finite batch is
// the earliest any saw.
#pragma once

#include "host/distributed/collectives.h"
#include "host/model/backend.h"

namespace train_gpu::distributed {

// In place, on every rank. Collective.
void reduce_totals(Collectives& collectives, PassTotals& totals);

}  // namespace train_gpu::distributed
