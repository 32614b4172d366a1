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

  // -1 (none) must not win the minimum: it travels as the largest value.
  int64_t first_nonfinite =
      totals.first_nonfinite_batch < 0 ? std::numeric_limits<int64_t>::max() : totals.first_nonfinite_batch;
  collectives.min(&first_nonfinite, 1, "the pass's first non-finite batch");
  totals.first_nonfinite_batch = first_nonfinite == std::numeric_limits<int64_t>::max() ? -1 : first_nonfinite;
}

}  // namespace train_gpu::distributed
