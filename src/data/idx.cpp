#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "spiketime/dataset.hpp"
#include "spiketime/error.hpp"

namespace spiketime {
namespace {

// gzread reads gzip and plain files alike.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(open(path)) {}
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  void read(void* out, std::size_t bytes, const char* what) {
    auto* dst = static_cast<unsigned char*>(out);
    while (bytes > 0) {
      const unsigned chunk = bytes > (1u << 30) ? (1u << 30) : static_cast<unsigned>(bytes);
      const int got = gzread(file_, dst, chunk);
      if (got <= 0) throw InputError(path_ + ": truncated while reading " + what);
      dst += got;
      bytes -= static_cast<std::size_t>(got);
    }
  }
  uint32_t big_endian_u32(const char* what) {
    std::array<unsigned char, 4> b{};
    read(b.data(), 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }
  bool at_end() {
    unsigned char extra;
    return gzread(file_, &extra, 1) == 0;
  }

 private:
  static gzFile open(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
      throw InputError(path + (std::filesystem::exists(path, error) ? ": is not a regular file" : ": not found"));
    }
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw InputError(path + ": cannot open");
    return f;
  }

  std::string path_;
  gzFile file_;
};

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int n_classes, int expected_rows,
                 int expected_cols) {
  Dataset data;
  data.n_classes = n_classes;
  GzFile images(images_path);
  if (images.big_endian_u32("the magic number") != 0x00000803u) {
    throw InputError(images_path + ": not an IDX image file (wrong magic number)");
  }
  const uint32_t n = images.big_endian_u32("the image count");
  const uint32_t rows = images.big_endian_u32("the row count");
  const uint32_t cols = images.big_endian_u32("the column count");
  if (rows != static_cast<uint32_t>(expected_rows) || cols != static_cast<uint32_t>(expected_cols)) {
    throw InputError(images_path + ": images are " + std::to_string(rows) + "x" + std::to_string(cols) + ", expected " +
                     std::to_string(expected_rows) + "x" + std::to_string(expected_cols));
  }
  if (n > 10'000'000u) throw InputError(images_path + ": implausible image count " + std::to_string(n));
  data.n_features = static_cast<int>(rows * cols);
  data.rows = static_cast<int>(rows);
  data.cols = static_cast<int>(cols);
  // Read in chunks, so that memory follows the data in the file rather than
  // the count in its header (a header claiming 10^7 images took 7.7 GB
  // before the read found the file short).
  const std::size_t total = static_cast<std::size_t>(n) * static_cast<std::size_t>(data.n_features);
  constexpr std::size_t kChunk = std::size_t{16} << 20;
  std::vector<unsigned char> pixels;
  while (pixels.size() < total) {
    const std::size_t done = pixels.size(), chunk = std::min(kChunk, total - done);
    pixels.resize(done + chunk);
    images.read(pixels.data() + done, chunk, "the pixels");
  }
  if (!images.at_end()) throw InputError(images_path + ": has data after the last image (wrong image size?)");

  GzFile labels(labels_path);
  if (labels.big_endian_u32("the magic number") != 0x00000801u) {
    throw InputError(labels_path + ": not an IDX label file (wrong magic number)");
  }
  const uint32_t n_labels = labels.big_endian_u32("the label count");
  if (n_labels != n) {
    throw InputError(labels_path + ": holds " + std::to_string(n_labels) + " labels but " + images_path + " holds " +
                     std::to_string(n) + " images");
  }
  data.labels.resize(n);
  labels.read(data.labels.data(), n, "the labels");
  for (uint32_t s = 0; s < n; ++s) {
    if (data.labels[s] >= n_classes) {
      throw InputError(labels_path + ": label " + std::to_string(data.labels[s]) + " of sample " + std::to_string(s) +
                       " is not below " + std::to_string(n_classes));
    }
  }
  data.features.resize(pixels.size());
  for (std::size_t k = 0; k < pixels.size(); ++k) data.features[k] = static_cast<float>(pixels[k]) / 255.0f;
  return data;
}

}  // namespace spiketime
