// One evaluation pass over a split through the Backend interface (any device): the loss and
// accuracy as the training log reports them, the confusion counts, and every sample's
// prediction, from which the list of mistakes is drawn.
#pragma once

#include <cstdint>
#include <vector>

#include "host/data/image_set.h"
#include "host/model/backend.h"

namespace train_gpu::eval {

struct SamplePrediction {
  int64_t index = 0;         // within the split
  int true_label = 0;
  int predicted_label = 0;   // argmax of the probabilities (the first on ties)
  float confidence = 0;      // the probability of predicted_label
};

struct Evaluation {
  Split split = Split::kTest;
  PassTotals totals;          // from the backend: loss sums, correct count, confusion
  double loss = 0;            // totals.mean_sample_loss(): the training log's "test loss"
  double accuracy = 0;        // totals.accuracy(), a fraction
  std::vector<SamplePrediction> predictions;  // one per sample, in index order
  std::vector<float> probabilities;           // (samples, 10): the softmax of each sample's logits
};

// Evaluates all `images.count` samples of `split` (the ImageSet attached to the backend for that
// split) in order, in batches of `batch_size` (the last one partial), reading the probabilities
// of every batch. Any evaluation totals accumulated before are discarded first. The backend must
// have its data attached and its state set. Synchronizes once per batch (probabilities_out).
Evaluation evaluate_split(Backend& backend, const ImageSet& images, Split split, int batch_size = 100);

// The mistakes (predicted != true), most confident first; ties by index.
std::vector<SamplePrediction> mistakes_by_confidence(const Evaluation& evaluation);

const char* split_name(Split split);  // "train" | "test"

}  // namespace train_gpu::eval
