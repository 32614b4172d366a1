#include "host/distributed/totals_reduction.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace train_gpu::distributed {

void reduce_totals(Collectives& collectives, PassTotals& totals) {
  double losses[2] = {totals.batch_loss_sum, totals.sample_loss_sum};
  collectives.sum(losses, 2, "the pass's loss sums");
  totals.batch_loss_sum = losses[0];
  totals.sample_loss_sum = losses[1];

  std::vector<int64_t> counts;
  counts.reserve(2 + totals.confusion.size());
  counts.push_back(totals.samples);
  counts.push_back(totals.correct);
  counts.insert(counts.end(), totals.confusion.begin(), totals.confusion.end());
  collectives.sum(counts.data(), counts.size(), "the pass's counts");
  totals.samples = counts[0];
  totals.correct = counts[1];
  std::copy(counts.begin() + 2, counts.end(), totals.confusion.begin());

  // -1 (none) must not win the minimum: it travels as the largest value. The batch count is the
  // largest any rank counted, as a minimum of negations: a GPU rank whose slice of a batch was
  // empty ran no loss kernel for it, and the last rank's slice is never empty.
  int64_t smallest[2] = {
      totals.first_nonfinite_batch < 0 ? std::numeric_limits<int64_t>::max() : totals.first_nonfinite_batch,
      -totals.batches};
  collectives.min(smallest, 2, "the pass's first non-finite batch and batch count");
  totals.first_nonfinite_batch = smallest[0] == std::numeric_limits<int64_t>::max() ? -1 : smallest[0];
  totals.batches = -smallest[1];
}

}  // namespace train_gpu::distributed
