#include <cstdlib>
#include <filesystem>

#include "spiketime/dataset.hpp"
#include "spiketime/error.hpp"

namespace spiketime {

Dataset Dataset::slice(std::size_t begin, std::size_t end) const {
  Dataset part;
  part.name = name;
  part.n_features = n_features;
  part.n_classes = n_classes;
  part.rows = rows;
  part.cols = cols;
  const auto width = static_cast<std::size_t>(n_features);
  part.features.assign(features.begin() + static_cast<long>(begin * width),
                       features.begin() + static_cast<long>(end * width));
  part.labels.assign(labels.begin() + static_cast<long>(begin), labels.begin() + static_cast<long>(end));
  return part;
}

std::string default_data_dir() {
  const char* env = std::getenv("SPIKETIME_DATA");
  return env && *env ? env : "data";
}

namespace {

DataSplits load_image_splits(const std::string& name, const std::string& dir, const std::string& extension,
                             const std::string& how_to_get, std::size_t validation_size) {
  auto path = [&](const std::string& file) { return dir + "/" + file + extension; };
  for (const char* file : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    if (!std::filesystem::exists(path(file))) {
      throw InputError(name + ": " + path(file) + " not found; " + how_to_get);
    }
  }
  DataSplits splits;
  Dataset train = load_idx(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte"));
  splits.test = load_idx(path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte"));
  if (validation_size >= train.size()) {
    throw InputError("validation_size: " + std::to_string(validation_size) + " leaves no training sample of " + name);
  }
  const std::size_t cut = train.size() - validation_size;
  splits.validation = train.slice(cut, train.size());
  splits.train = train.slice(0, cut);
  for (Dataset* d : {&splits.train, &splits.validation, &splits.test}) d->name = name;
  return splits;
}

}  // namespace

DataSplits load_splits(const std::string& name, const std::string& data_dir, std::size_t validation_size) {
  if (name == "mnist") {
    return load_image_splits(name, data_dir + "/mnist", "", "run scripts/fetch-data.sh " + data_dir, validation_size);
  }
  if (name == "fashion-mnist") {
    const char* env = std::getenv("SPIKETIME_FASHION_DIR");
    const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
    return load_image_splits(name, dir, ".gz", "install the Debian package dataset-fashion-mnist (scripts/install-deps.sh)",
                             validation_size);
  }
  if (name == "yinyang") {
    return {make_yinyang(5000, 42), make_yinyang(1000, 41), make_yinyang(1000, 40)};
  }
  throw InputError("dataset: unknown data set '" + name + "' (mnist, fashion-mnist or yinyang)");
}

}  // namespace spiketime
