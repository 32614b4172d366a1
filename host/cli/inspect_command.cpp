// `train_gpu inspect`: loads and validates the dataset, then prints what the tutorial's first
// cells show (shapes, pixel and label ranges, the label distribution per split), optionally
// draws one image in the terminal and writes the distribution as CSV.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "host/cli/commands.h"
#include "host/cli/options.h"
#include "host/cli/validators.h"
#include "host/common/error.h"
#include "host/common/format.h"
#include "host/data/dataset_stats.h"
#include "host/eval/report_files.h"

namespace train_gpu::cli {

namespace {

struct InspectOptions {
  DataOptions data;
  int64_t show_index = 0;
  bool show = false;
  std::string split = "train";
  std::string out_dir;
};

// Columns padded to their widest cell; `right_aligned[c]` for numeric columns. Cells are ASCII
// (class names included), so byte length is display width.
std::string format_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right_aligned) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string padding(widths[c] - row[c].size(), ' ');
      const bool right = c < right_aligned.size() && right_aligned[c];
      line += "  " + (right ? padding + row[c] : row[c] + padding);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

void print_summary(const Dataset& dataset, std::ostream& out) {
  out << "\nShapes\n"
      << format_table({{"split", "images", "labels"},
                       {"train", image_shape_text(dataset.train), label_shape_text(dataset.train)},
                       {"test", image_shape_text(dataset.test), label_shape_text(dataset.test)}},
                      {false, false, false});

  std::vector<std::vector<std::string>> values{
      {"split", "pixel values", "pixel min", "pixel max", "label values", "label min", "label max"}};
  for (const auto* set : {&dataset.train, &dataset.test}) {
    const ValueStats pixels = pixel_stats(*set);
    const ValueStats labels = label_stats(*set);
    values.push_back({set == &dataset.train ? "train" : "test", std::to_string(pixels.unique_values),
                      std::to_string(pixels.min), std::to_string(pixels.max), std::to_string(labels.unique_values),
                      std::to_string(labels.min), std::to_string(labels.max)});
  }
  out << "\nValues (distinct count, min, max)\n"
      << format_table(values, {false, true, true, true, true, true, true});

  // Per channel, on the [0,1] scale the model sees: the numbers a normalization step would use.
  const bool colour = dataset.train.channels == 3;
  std::vector<std::vector<std::string>> channels{{"split", "channel", "mean", "std"}};
  for (const auto* set : {&dataset.train, &dataset.test}) {
    const std::vector<ChannelStats> stats = channel_stats(*set);
    for (size_t c = 0; c < stats.size(); ++c) {
      channels.push_back({set == &dataset.train ? "train" : "test", colour ? std::string(1, "RGB"[c % 3]) : "gray",
                          fixed(stats[c].mean, 4), fixed(stats[c].std, 4)});
    }
  }
  out << "\nPixels per channel (scaled to [0,1])\n" << format_table(channels, {false, false, true, true});

  const std::vector<std::string>& names = dataset.class_names;
  const int num_classes = static_cast<int>(names.size());
  const std::vector<double> train_percent = label_percentages(dataset.train, num_classes);
  const std::vector<double> test_percent = label_percentages(dataset.test, num_classes);
  // MNIST's class names are its labels; a second identical column would only be noise.
  const bool named_classes = names != numbered_class_names(num_classes);
  std::vector<std::vector<std::string>> distribution{named_classes
                                                         ? std::vector<std::string>{"label", "class", "train %", "test %"}
                                                         : std::vector<std::string>{"label", "train %", "test %"}};
  for (int c = 0; c < num_classes; ++c) {
    std::vector<std::string> row{std::to_string(c)};
    if (named_classes) row.push_back(names[static_cast<size_t>(c)]);
    row.push_back(fixed(train_percent[static_cast<size_t>(c)], 6));
    row.push_back(fixed(test_percent[static_cast<size_t>(c)], 6));
    distribution.push_back(std::move(row));
  }
  out << "\nLabel distribution (% of each split)\n"
      << format_table(distribution, named_classes ? std::vector<bool>{false, false, true, true}
                                                  : std::vector<bool>{false, true, true});
}

const ImageSet& shown_split(const Dataset& dataset, const InspectOptions& options) {
  return options.split == "test" ? dataset.test : dataset.train;
}

// Checked before anything is printed, so a bad index fails alone rather than after the tables.
void check_show_index(const Dataset& dataset, const InspectOptions& options) {
  const ImageSet& set = shown_split(dataset, options);
  if (options.show_index < 0 || options.show_index >= set.count) {
    throw Error("--show " + std::to_string(options.show_index) + ": index out of range; the " + options.split +
                " split has " + std::to_string(set.count) + " images (0.." + std::to_string(set.count - 1) + ")");
  }
}

void show_image(const Dataset& dataset, const InspectOptions& options, std::ostream& out) {
  const ImageSet& set = shown_split(dataset, options);
  const int label = set.labels[static_cast<size_t>(options.show_index)];
  out << "\n" << options.split << " image " << options.show_index << ": label " << label;
  if (dataset.class_names != numbered_class_names(set.classes)) out << " (" << dataset.class_names[static_cast<size_t>(label)] << ")";
  out << "\n" << render_image(set, options.show_index);
}

void write_distribution_csv(const Dataset& dataset, const std::string& out_dir, std::ostream& out) {
  const std::filesystem::path directory(out_dir);
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw Error("--out " + out_dir + ": cannot create the directory: " + error.message());
  const int num_classes = static_cast<int>(dataset.class_names.size());
  const std::filesystem::path file = directory / "label_distribution.csv";
  eval::write_text_file(file, label_distribution_csv(dataset.train, dataset.test, num_classes));
  out << "\nwrote " << file.string() << "\n";
}

void run_inspect(const InspectOptions& options) {
  const DatasetKind kind = parse_dataset_kind(options.data.dataset);
  std::cout << dataset_display_name(kind) << " from " << data_directory(options.data).string() << "\n";
  const Dataset dataset = load_dataset_from_options(options.data, std::cout);
  if (options.show) check_show_index(dataset, options);
  print_summary(dataset, std::cout);
  if (options.show) show_image(dataset, options, std::cout);
  if (!options.out_dir.empty()) write_distribution_csv(dataset, options.out_dir, std::cout);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand(
      "inspect", "Validate the dataset and print its shapes, value ranges and label distribution");
  auto options = std::make_shared<InspectOptions>();
  add_data_options(*command, options->data);
  CLI::Option* show = command->add_option("--show", options->show_index, "Draw image N in the terminal, with its label")
                          ->check(whole_number_at_least(0));
  command->add_option("--split", options->split, "Split --show draws from: train or test")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str()
      ->needs(show);
  command->add_option("--out", options->out_dir, "Also write DIR/label_distribution.csv (DIR is created)");
  command->callback([options, show] {
    options->show = show->count() > 0;
    run_inspect(*options);
  });
}

}  // namespace train_gpu::cli
