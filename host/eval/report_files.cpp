#include "host/eval/report_files.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/common/error.h"
#include "host/common/format.h"
#include "host/eval/activation_maps.h"
#include "host/eval/npy.h"
#include "host/train/run_directory.h"

namespace train_gpu::eval {

namespace {

constexpr int kMistakeTiles = 32;        // in mistakes.png
constexpr int kMistakeTileColumns = 8;
constexpr int64_t kMistakeImages = 64;   // in mistake_images.npy
constexpr int64_t kSampleImages = 25;    // in sample_images.npy

void ensure_directory(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    throw Error(dir.string() + ": cannot create the output directory: " +
                (error ? error.message() : std::string("a file of that name is in the way")) + "; pass another --out");
  }
}

std::vector<int64_t> image_shape(const ImageSet& images, int64_t count) { return {count, images.rows, images.cols}; }

std::string confusion_csv(const ConfusionMatrix& confusion, const std::vector<std::string>& names) {
  std::ostringstream out;
  out << "true\\predicted";
  for (const std::string& name : names) out << "," << name;
  out << "\n";
  for (int t = 0; t < confusion.classes(); ++t) {
    out << names[static_cast<size_t>(t)];
    for (int p = 0; p < confusion.classes(); ++p) out << "," << confusion.count(t, p);
    out << "\n";
  }
  return out.str();
}

std::string mistakes_csv(const std::vector<SamplePrediction>& mistakes) {
  std::string text = "index,true_label,predicted_label,confidence\n";
  char line[96];
  for (const SamplePrediction& m : mistakes) {
    std::snprintf(line, sizeof line, "%lld,%d,%d,%.6f\n", static_cast<long long>(m.index), m.true_label, m.predicted_label,
                  static_cast<double>(m.confidence));
    text += line;
  }
  return text;
}

// A JSON number, or null when not finite (JSON has no NaN).
nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

std::string evaluation_json(const Dataset& dataset, const Evaluation& evaluation, const ConfusionMatrix& confusion,
                            size_t mistake_count, const EvaluatedCheckpoint& checkpoint) {
  const std::vector<std::string>& names = dataset.class_names;
  nlohmann::json classes = nlohmann::json::array();
  nlohmann::json matrix = nlohmann::json::array();
  for (int c = 0; c < confusion.classes(); ++c) {
    const ClassMetrics& m = confusion.class_metrics(c);
    classes.push_back({{"class", c},
                       {"name", names[static_cast<size_t>(c)]},
                       {"precision", m.precision},
                       {"recall", m.recall},
                       {"support", m.support},
                       {"predicted", m.predicted},
                       {"true_positives", m.true_positives},
                       {"precision_defined", m.precision_defined},
                       {"recall_defined", m.recall_defined}});
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < confusion.classes(); ++p) row.push_back(confusion.count(c, p));
    matrix.push_back(row);
  }
  nlohmann::json document = checkpoint_fields(checkpoint);
  document.update({
      {"dataset", dataset_kind_name(dataset.kind)},
      {"split", split_name(evaluation.split)},
      {"samples", evaluation.totals.samples},
      {"correct", evaluation.totals.correct},
      {"mistakes", mistake_count},
      {"loss", number(evaluation.loss)},
      {"accuracy", number(evaluation.accuracy)},
      {"macro_precision", confusion.macro_precision()},
      {"macro_recall", confusion.macro_recall()},
      {"zero_division", "a precision or recall of 0/0 is written as 0 with its *_defined flag false"},
      {"classes", classes},
      {"confusion", matrix},
      {"confusion_layout", "rows: true class, columns: predicted class"}});
  return document.dump(2) + "\n";
}

// One labelled tile of mistakes.png: the image 4x, then a strip "7>2 99%".
Image mistake_tile(const ImageSet& images, const SamplePrediction& mistake) {
  constexpr int kScale = 4;
  constexpr int kTextScale = 3;
  constexpr int kStripPadding = 4;
  const Image picture = to_rgb(upscale(grayscale(images.image(mistake.index), images.cols, images.rows), kScale));
  Image tile(picture.width, picture.height + text_height(kTextScale) + 2 * kStripPadding, 3, 40);
  std::copy(picture.pixels.begin(), picture.pixels.end(), tile.pixels.begin());

  const std::string true_text = std::to_string(mistake.true_label);
  const std::string predicted_text = std::to_string(mistake.predicted_label);
  // Rounded down, so a wrong answer never reads "100%".
  const std::string confidence_text =
      " " + std::to_string(static_cast<int>(std::floor(100.0 * static_cast<double>(mistake.confidence)))) + "%";
  const int y = picture.height + kStripPadding;
  int x = kStripPadding;
  const Rgb green{90, 230, 90}, red{255, 100, 100}, gray{220, 220, 220};
  draw_text(tile, x, y, true_text, kTextScale, green);
  x += text_width(true_text + " ", kTextScale);
  draw_text(tile, x, y, ">", kTextScale, gray);
  x += text_width("> ", kTextScale);
  draw_text(tile, x, y, predicted_text, kTextScale, red);
  x += text_width(predicted_text, kTextScale);
  draw_text(tile, x, y, confidence_text, kTextScale, gray);
  return tile;
}

std::string plural(size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

std::string describe(const nlohmann::json& value) {
  return value.is_null() ? "unknown" : value.is_string() ? value.get<std::string>() : value.dump();
}

// Says so when `out_dir` already holds an evaluation of another checkpoint, state or split, which
// this one is about to replace (an unreadable or older evaluation.json is replaced without a word:
// there is nothing to compare).
void note_replaced_evaluation(const std::filesystem::path& out_dir, const nlohmann::json& incoming, std::ostream& log) {
  std::ifstream file(out_dir / "evaluation.json");
  if (!file) return;
  const nlohmann::json existing = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (!existing.is_object() || !existing.contains("checkpoint")) return;
  for (const char* key : {"checkpoint", "epoch", "step", "batches_into_epoch", "split"}) {
    if (existing.value(key, nlohmann::json()) != incoming.value(key, nlohmann::json())) {
      log << "note: replacing " << (out_dir / "evaluation.json").string() << ", the evaluation of "
          << describe(existing["checkpoint"]) << " (epoch " << describe(existing.value("epoch", nlohmann::json()))
          << ", step " << describe(existing.value("step", nlohmann::json())) << ", "
          << existing.value("split", std::string("?")) << " split)\n";
      return;
    }
  }
}

}  // namespace

void write_text_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(file.string() + ": cannot create: " + std::strerror(errno));
  out << text;
  out.close();
  if (!out) throw Error(file.string() + ": write failed: " + std::strerror(errno) + " (disk full?)");
}

std::string evaluation_summary_line(const Evaluation& evaluation) {
  return std::string(split_name(evaluation.split)) + " loss " + fixed(evaluation.loss, 4) + "  acc " +
         fixed(100 * evaluation.accuracy, 2) + "%";
}

std::vector<std::filesystem::path> write_evaluation_files(const std::filesystem::path& out_dir, const Dataset& dataset,
                                                          const ImageSet& images, const Evaluation& evaluation,
                                                          const ConfusionMatrix& confusion,
                                                          const EvaluatedCheckpoint& checkpoint) {
  if (evaluation.predictions.size() != static_cast<size_t>(images.count) ||
      evaluation.probabilities.size() != static_cast<size_t>(images.count) * static_cast<size_t>(images.classes)) {
    throw Error("evaluation files: " + std::to_string(evaluation.predictions.size()) + " predictions and " +
                std::to_string(evaluation.probabilities.size()) + " probabilities for " + std::to_string(images.count) +
                " images");
  }
  ensure_directory(out_dir);
  std::vector<std::filesystem::path> written;
  const std::vector<SamplePrediction> mistakes = mistakes_by_confidence(evaluation);

  written.push_back(out_dir / "confusion.csv");
  write_text_file(written.back(), confusion_csv(confusion, dataset.class_names));
  written.push_back(out_dir / "evaluation.json");
  write_text_file(written.back(), evaluation_json(dataset, evaluation, confusion, mistakes.size(), checkpoint));
  written.push_back(out_dir / "mistakes.csv");
  write_text_file(written.back(), mistakes_csv(mistakes));
  written.push_back(out_dir / "probabilities.npy");
  write_npy(written.back(), evaluation.probabilities.data(), {images.count, images.classes});

  const int64_t image_count = std::min<int64_t>(kMistakeImages, static_cast<int64_t>(mistakes.size()));
  std::vector<uint8_t> mistake_pixels;
  for (int64_t i = 0; i < image_count; ++i) {
    const uint8_t* image = images.image(mistakes[static_cast<size_t>(i)].index);
    mistake_pixels.insert(mistake_pixels.end(), image, image + images.image_size());
  }
  written.push_back(out_dir / "mistake_images.npy");
  write_npy(written.back(), mistake_pixels.data(), image_shape(images, image_count));

  // A picture of nothing says less than its absence; a perfect evaluation gets no mistakes.png.
  std::error_code ignored;
  std::filesystem::remove(out_dir / "mistakes.png", ignored);  // a stale one would be misleading
  if (!mistakes.empty()) {
    std::vector<Image> tiles;
    for (size_t i = 0; i < std::min<size_t>(kMistakeTiles, mistakes.size()); ++i) tiles.push_back(mistake_tile(images, mistakes[i]));
    written.push_back(out_dir / "mistakes.png");
    write_png(written.back(),
              with_caption(tile_grid(tiles, kMistakeTileColumns, 6, 255), figure_caption(checkpoint), Rgb{40, 40, 40}, 255));
  }

  const int64_t samples = std::min<int64_t>(kSampleImages, images.count);
  std::vector<uint8_t> sample_predictions;
  for (int64_t i = 0; i < samples; ++i) {
    sample_predictions.push_back(static_cast<uint8_t>(evaluation.predictions[static_cast<size_t>(i)].predicted_label));
  }
  written.push_back(out_dir / "sample_images.npy");
  write_npy(written.back(), images.pixels.data(), image_shape(images, samples));
  written.push_back(out_dir / "sample_labels.npy");
  write_npy(written.back(), images.labels.data(), {samples});
  written.push_back(out_dir / "sample_predictions.npy");
  write_npy(written.back(), sample_predictions.data(), {samples});
  return written;
}

FeatureFiles write_feature_files(const std::filesystem::path& out_dir, const Dataset& dataset, Split split,
                                 const ImageSet& images, int64_t index, const FeatureMaps& maps,
                                 const std::vector<float>& probabilities, const EvaluatedCheckpoint& checkpoint) {
  if (index < 0 || index >= images.count) {
    throw Error("--index " + std::to_string(index) + " is outside the " + split_name(split) + " split (0.." +
                std::to_string(images.count - 1) + ")");
  }
  if (probabilities.size() != static_cast<size_t>(images.classes)) {
    throw Error("feature maps: expected " + std::to_string(images.classes) + " probabilities, got " +
                std::to_string(probabilities.size()));
  }
  // feature_grid validates the maps before anything is written.
  const Image grid = with_caption(to_rgb(feature_grid(maps)), figure_caption(checkpoint), Rgb{40, 40, 40}, 128);
  ensure_directory(out_dir);
  const std::string stem = std::string("features-") + split_name(split) + "-" + std::to_string(index) +
                           (maps.layer.empty() ? "" : "-" + maps.layer);
  FeatureFiles files{out_dir / (stem + ".npy"), out_dir / (stem + "-input.npy"), out_dir / (stem + ".json"),
                     out_dir / (stem + ".png")};
  write_npy(files.maps_npy, maps.values.data(), {maps.channels, maps.height, maps.width});
  // (rows, cols) for gray, as ever; (channels, rows, cols) for colour, as stored.
  write_npy(files.input_npy, images.image(index),
            images.channels == 1 ? std::vector<int64_t>{images.rows, images.cols}
                                 : std::vector<int64_t>{images.channels, images.rows, images.cols});

  const int predicted = static_cast<int>(std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin());
  nlohmann::json document = checkpoint_fields(checkpoint);
  document.update({{"dataset", dataset_kind_name(dataset.kind)},
                                   {"split", split_name(split)},
                                   {"index", index},
                                   {"label", images.labels[static_cast<size_t>(index)]},
                                   {"predicted", predicted},
                                   {"probabilities", probabilities},
                                   {"class_names", dataset.class_names},
                                   {"maps_shape", {maps.channels, maps.height, maps.width}}});
  if (!maps.layer.empty()) document["layer"] = maps.layer;
  write_text_file(files.json, document.dump(2) + "\n");
  write_png(files.png, grid);
  return files;
}

EvaluationReport evaluate_and_write(Backend& backend, const Dataset& dataset, Split split,
                                    const EvaluatedCheckpoint& checkpoint, const std::filesystem::path& out_dir,
                                    std::ostream& log, int batch_size) {
  const ImageSet& images = split == Split::kTrain ? dataset.train : dataset.test;
  EvaluationReport report;
  report.out_dir = out_dir;
  report.checkpoint = checkpoint;
  log << "evaluating the " << split_name(split) << " split (" << with_thousands(images.count) << " images) on "
      << backend.description() << "\n";
  report.evaluation = evaluate_split(backend, images, split, batch_size);
  const PassTotals& totals = report.evaluation.totals;
  report.confusion = ConfusionMatrix(images.classes, totals.confusion);
  report.mistakes = mistakes_by_confidence(report.evaluation);

  log << evaluation_summary_line(report.evaluation) << "\n\n"
      << "confusion matrix (rows: true class, columns: predicted class)\n"
      << confusion_table(report.confusion, dataset.class_names) << "\n";

  nlohmann::json incoming = checkpoint_fields(checkpoint);
  incoming["split"] = split_name(split);
  note_replaced_evaluation(out_dir, incoming, log);
  report.files = write_evaluation_files(out_dir, dataset, images, report.evaluation, report.confusion, checkpoint);
  // The first Conv2D's maps of the first image; a model without convolutions has none to show.
  const model::NetworkSpec& spec = backend.network();
  const bool has_conv = std::any_of(spec.layers.begin(), spec.layers.end(),
                                    [](const model::LayerSpec& layer) { return layer.kind == model::LayerKind::kConv2D; });
  if (has_conv) {
    const ImageActivations activations = backend.activations(split, 0);
    const FeatureFiles features = write_feature_files(out_dir, dataset, split, images, 0,
                                                      feature_maps_of(activations, spec, feature_layer_index(spec, "")),
                                                      activations.probabilities, checkpoint);
    for (const auto& file : {features.maps_npy, features.input_npy, features.json, features.png}) report.files.push_back(file);
  }

  log << "wrote " << plural(report.files.size(), "file") << " to " << out_dir.string() << ": ";
  for (size_t i = 0; i < report.files.size(); ++i) log << (i ? ", " : "") << report.files[i].filename().string();
  log << " (" << plural(report.mistakes.size(), "mistake") << ")\n";
  return report;
}

std::filesystem::path default_evaluation_dir(const std::filesystem::path& checkpoint, Split split) {
  const std::filesystem::path directory = checkpoint.parent_path();
  if (directory.filename() != "checkpoints") return "evaluation";
  const std::filesystem::path run_evaluation = directory.parent_path() / "evaluation";
  if (split == Split::kTrain) return run_evaluation / (checkpoint.stem().string() + "-train");
  std::error_code error;
  try {
    if (std::filesystem::equivalent(resolve_resume_source(directory), checkpoint, error)) return run_evaluation;
  } catch (const Error&) {
    // No epoch-*.safetensors there: the checkpoint is not one the trainer wrote, so not its final one.
  }
  return run_evaluation / checkpoint.stem();
}

}  // namespace train_gpu::eval
