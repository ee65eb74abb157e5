// Labelled image or feature data sets, with intensities in [0, 1].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spiketime {

struct Dataset {
  std::string name;
  int n_features = 0;
  int n_classes = 0;
  std::vector<float> features;  // sample-major: features[s * n_features + f], in [0, 1]
  std::vector<uint8_t> labels;

  std::size_t size() const { return labels.size(); }
  const float* sample(std::size_t s) const { return features.data() + s * static_cast<std::size_t>(n_features); }
};

// Reads an IDX image file and its label file (plain or gzip-compressed, as
// MNIST and Fashion-MNIST ship them). Throws InputError naming the file for a
// missing or truncated file, a wrong magic number, mismatched counts or a
// label out of range.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int n_classes = 10);

}  // namespace spiketime
