// Labelled data sets with features in [0, 1]: MNIST, Fashion-MNIST, Yin-Yang.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spiketime {

struct Dataset {
  std::string name;
  int n_features = 0;
  int n_classes = 0;
  int rows = 0, cols = 0;  // images (MNIST, Fashion-MNIST): rows * cols == n_features; else 0
  std::vector<float> features;  // sample-major: features[s * n_features + f], in [0, 1]
  std::vector<uint8_t> labels;

  std::size_t size() const { return labels.size(); }
  const float* sample(std::size_t s) const { return features.data() + s * static_cast<std::size_t>(n_features); }
  // Samples [begin, end) as a data set of their own.
  Dataset slice(std::size_t begin, std::size_t end) const;
};

// Reads an IDX image file and its label file (plain or gzip-compressed, as
// MNIST and Fashion-MNIST ship them). Throws InputError naming the file for a
// missing or truncated file, a wrong magic number, mismatched counts, an
// image size other than expected_rows x expected_cols, or a label out of range.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int n_classes = 10,
                 int expected_rows = 28, int expected_cols = 28);

// Yin-Yang (Kriener et al.), bit for bit as the reference generator with
// numpy's legacy RandomState(seed): see docs/YINYANG.md.
struct YinYangPoint {
  double x, y;
  int label;
};
int yinyang_class(double x, double y);
std::vector<YinYangPoint> yinyang_points(std::size_t n_samples, uint32_t seed);
Dataset make_yinyang(std::size_t n_samples, uint32_t seed);  // features (x, y, 1-x, 1-y)

// The three splits of a data set. The validation split is taken from the
// training data (MNIST, Fashion-MNIST: its last validation_size samples;
// Yin-Yang: its own seeded split); the test split is never used for choices.
struct DataSplits {
  Dataset train, validation, test;
};
inline const std::vector<std::string> kDatasetNames = {"mnist", "fashion-mnist", "yinyang"};
DataSplits load_splits(const std::string& name, const std::string& data_dir, std::size_t validation_size);

// $SPIKETIME_DATA, else "data". Fashion-MNIST is read from
// $SPIKETIME_FASHION_DIR, else /usr/share/datasets/fashion-mnist.
std::string default_data_dir();

}  // namespace spiketime
