// The files an evaluation leaves in its output directory (RUN/evaluation/ by default), and the
// entry point the trainer calls after its last epoch:
//
//   confusion.csv          counts, rows true class, columns predicted; first column the class
//                          (pandas.read_csv(f, index_col=0)); header "true\predicted,0,...,9"
//   evaluation.json        which model: checkpoint (absolute path), epoch, step,
//                          batches_into_epoch (null when unknown: a PyTorch state_dict);
//                          dataset, split, loss, accuracy, per-class precision/recall/support
//                          (0/0 written as 0 with "precision_defined": false, see confusion.h),
//                          macro averages, the confusion matrix as a list of rows
//   mistakes.csv           index,true_label,predicted_label,confidence -- every mistake, most
//                          confident first
//   probabilities.npy      float32 (N, 10): every sample's class probabilities, in index order
//                          (what an exported ONNX model's softmax must reproduce)
//   mistake_images.npy     uint8 (K, 28, 28): the images of the first K <= 64 rows of mistakes.csv
//   mistakes.png           the 32 most confident mistakes, 8 per row, each labelled
//                          "true > predicted confidence%" (true in green, predicted in red,
//                          confidence rounded down); captioned "EPOCH e STEP s" below
//   sample_images.npy      uint8 (25, 28, 28): the split's first 25 images
//   sample_labels.npy      uint8 (25,): their labels
//   sample_predictions.npy uint8 (25,): the model's predictions for them
//   features-<split>-<i>.npy        float32 (32, 26, 26): post-ReLU convolution maps of image i
//   features-<split>-<i>-input.npy  uint8 (28, 28): image i
//   features-<split>-<i>.json       label, predicted class, the 10 probabilities
//   features-<split>-<i>.png        the 32 maps, 4 rows of 8, each normalized to its own range,
//                                   captioned "EPOCH e STEP s" below
//
// Where they go by default (default_evaluation_dir): RUN/evaluation holds the evaluation of the
// run's newest checkpoint on the test split -- what training writes after its last epoch -- and
// an evaluation of any other checkpoint of the run goes to RUN/evaluation/<checkpoint name>/
// (epoch-002/; epoch-002-train/ for the training split), so it never replaces the final one. Replacing an evaluation of another checkpoint or split (an
// explicit --out) is said in the log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "host/data/dataset.h"
#include "host/eval/confusion.h"
#include "host/eval/evaluated_checkpoint.h"
#include "host/eval/evaluator.h"
#include "host/eval/feature_grid.h"
#include "host/eval/png_image.h"
#include "host/model/backend.h"

namespace train_gpu::eval {

struct EvaluationReport {
  Evaluation evaluation;
  ConfusionMatrix confusion{model::kClasses, std::vector<int64_t>(model::kClasses * model::kClasses, 0)};
  std::vector<SamplePrediction> mistakes;   // most confident first
  EvaluatedCheckpoint checkpoint;           // the model evaluated
  std::filesystem::path out_dir;
  std::vector<std::filesystem::path> files;  // everything written
};

// For the trainer (and `train_gpu evaluate`): evaluates `split` of `dataset` with the backend's
// current state (data attached by the caller; `checkpoint` says which model that is), prints to `log` the summary line, the confusion
// table and what was written, and writes all the files above into `out_dir` (created when
// missing), including the feature maps of the split's image 0. Device-agnostic: only the Backend
// interface is used; batches of `batch_size` must not exceed the backend's max_batch. Errors (an
// unwritable directory, a backend failure) are Errors.
EvaluationReport evaluate_and_write(Backend& backend, const Dataset& dataset, Split split,
                                    const EvaluatedCheckpoint& checkpoint, const std::filesystem::path& out_dir,
                                    std::ostream& log, int batch_size = 100);

// "test loss 0.0412  acc 98.71%": the training log's format for a test pass.
std::string evaluation_summary_line(const Evaluation& evaluation);

// Writes confusion.csv ... sample_predictions.npy (not the features) for an evaluation of
// `images`; returns the paths written.
std::vector<std::filesystem::path> write_evaluation_files(const std::filesystem::path& out_dir, const Dataset& dataset,
                                                          const ImageSet& images, const Evaluation& evaluation,
                                                          const ConfusionMatrix& confusion,
                                                          const EvaluatedCheckpoint& checkpoint);

struct FeatureFiles {
  std::filesystem::path maps_npy;   // features-<split>-<i>.npy
  std::filesystem::path input_npy;  // features-<split>-<i>-input.npy
  std::filesystem::path json;       // features-<split>-<i>.json
  std::filesystem::path png;        // features-<split>-<i>.png
};

// Writes the four features files of image `index` of `images` (which is `split`): `maps` (of
// the first Conv2D: features-<split>-<i>.*; of another layer: features-<split>-<i>-<layer>.*)
// and the model's `probabilities`, the picture (feature_grid.h) captioned with
// figure_caption(checkpoint).
FeatureFiles write_feature_files(const std::filesystem::path& out_dir, const Dataset& dataset, Split split,
                                 const ImageSet& images, int64_t index, const FeatureMaps& maps,
                                 const std::vector<float>& probabilities, const EvaluatedCheckpoint& checkpoint);

// For `checkpoint` = RUN/checkpoints/<name>.safetensors: RUN/evaluation when it is the run's
// newest checkpoint (the one training evaluates at its end) and `split` the test split, else
// RUN/evaluation/<name> (RUN/evaluation/<name>-train for the training split). For a checkpoint
// outside a run: ./evaluation.
std::filesystem::path default_evaluation_dir(const std::filesystem::path& checkpoint, Split split = Split::kTest);

// Writes `text` to `file` (replacing it); an Error names the file and the system's reason.
void write_text_file(const std::filesystem::path& file, const std::string& text);

}  // namespace train_gpu::eval
