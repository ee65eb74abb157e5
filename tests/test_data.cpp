// Data sets: the Yin-Yang generator against the reference splits, and the
// IDX loader against broken files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "spiketime/dataset.hpp"
#include "spiketime/error.hpp"

namespace spiketime {
namespace {

namespace fs = std::filesystem;

TEST(YinYang, SplitsMatchTheReferenceGenerator) {
  struct Split {
    std::size_t n;
    uint32_t seed;
    std::array<int, 3> counts;
    YinYangPoint first, second;
  };
  // docs/YINYANG.md: class counts and the first two samples of each split.
  const std::vector<Split> splits = {
      {5000, 42, {1681, 1702, 1617}, {0.6803075385877797, 0.450499251969543, 2}, {0.09767211400638387, 0.6842330265121569, 1}},
      {1000, 41, {316, 336, 348}, {0.6805727261759029, 0.3209733938933629, 0}, {0.6685157172603458, 0.9174478488708967, 1}},
      {1000, 40, {350, 316, 334}, {0.23409664559563403, 0.4017249751828972, 2}, {0.7513290219574494, 0.4682425192680968, 2}},
  };
  for (const Split& s : splits) {
    const auto points = yinyang_points(s.n, s.seed);
    ASSERT_EQ(points.size(), s.n);
    std::array<int, 3> counts{};
    for (const auto& p : points) ++counts[static_cast<std::size_t>(p.label)];
    EXPECT_EQ(counts, s.counts) << "seed " << s.seed;
    EXPECT_EQ(points[0].x, s.first.x);  // bit for bit
    EXPECT_EQ(points[0].y, s.first.y);
    EXPECT_EQ(points[0].label, s.first.label);
    EXPECT_EQ(points[1].x, s.second.x);
    EXPECT_EQ(points[1].y, s.second.y);
    EXPECT_EQ(points[1].label, s.second.label);
  }
  const Dataset d = make_yinyang(10, 42);
  EXPECT_EQ(d.n_features, 4);
  EXPECT_FLOAT_EQ(d.sample(0)[2], static_cast<float>(1.0 - 0.6803075385877797));
}

TEST(YinYang, ClassRegions) {
  EXPECT_EQ(yinyang_class(0.75, 0.5), 2);   // centre of the right dot
  EXPECT_EQ(yinyang_class(0.25, 0.5), 2);   // centre of the left dot
  EXPECT_EQ(yinyang_class(0.5, 0.95), 1);   // top: yin
  EXPECT_EQ(yinyang_class(0.5, 0.05), 0);   // bottom: yang
}

class IdxFiles : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("spiketime_idx_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  static std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  }
  std::string images(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, std::size_t pixels) {
    std::string s = be32(magic) + be32(n) + be32(rows) + be32(cols);
    for (std::size_t k = 0; k < pixels; ++k) s.push_back(static_cast<char>(k % 256));
    return s;
  }
  std::string labels(uint32_t magic, uint32_t n, uint8_t value = 3) {
    return be32(magic) + be32(n) + std::string(n, static_cast<char>(value));
  }
  std::string write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  }
  std::string write_gz(const std::string& name, const std::string& bytes) {
    const std::string path = (dir / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return path;
  }
  void expect_rejected(const std::string& img, const std::string& lbl, const std::string& names, const std::string& says) {
    try {
      load_idx(img, lbl);
      ADD_FAILURE() << "accepted " << img;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(names), std::string::npos) << what;
      EXPECT_NE(what.find(says), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos);
    }
  }
};

TEST_F(IdxFiles, ReadsPlainAndGzipAlike) {
  const std::string img = images(0x803, 2, 28, 28, 2 * 784), lbl = labels(0x801, 2);
  const Dataset plain = load_idx(write("i", img), write("l", lbl));
  const Dataset gz = load_idx(write_gz("i.gz", img), write_gz("l.gz", lbl));
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain.features, gz.features);
  EXPECT_EQ(plain.labels, gz.labels);
  EXPECT_FLOAT_EQ(plain.features[255], 1.0f);
  EXPECT_EQ(plain.labels[1], 3);
}

TEST_F(IdxFiles, RejectsBrokenFilesNamingThem) {
  const std::string good_lbl = write("labels", labels(0x801, 2));
  const std::string good_img = write("images", images(0x803, 2, 28, 28, 2 * 784));
  expect_rejected(write("truncated", images(0x803, 2, 28, 28, 784 + 100)), good_lbl, "truncated", "truncated");
  expect_rejected(write("short-header", be32(0x803) + be32(2)), good_lbl, "short-header", "truncated");
  expect_rejected(write("magic", images(0x801, 2, 28, 28, 2 * 784)), good_lbl, "magic", "magic number");
  expect_rejected(good_img, write("label-magic", labels(0x803, 2)), "label-magic", "magic number");
  expect_rejected(good_img, write("count", labels(0x801, 3)), "count", "3 labels but");
  expect_rejected(write("size", images(0x803, 2, 32, 32, 2 * 1024)), good_lbl, "size", "32x32, expected 28x28");
  expect_rejected(write("extra", images(0x803, 2, 28, 28, 2 * 784 + 5)), good_lbl, "extra", "after the last image");
  expect_rejected(good_img, write("bad-label", labels(0x801, 2, 12)), "bad-label", "label 12");
  expect_rejected((dir / "missing").string(), good_lbl, "missing", "not found");
  expect_rejected(dir.string(), good_lbl, dir.string(), "is not a regular file");
  // A header claiming 9,999,999 images over one image of data: "truncated",
  // with memory for what the file holds (it took 7.7 GB first).
  expect_rejected(write("claims", images(0x803, 9999999, 28, 28, 784)), good_lbl, "claims", "truncated");
}

TEST(Splits, MissingDataSaysWhatToRun) {
  try {
    load_splits("mnist", "/nonexistent-data-dir", 10000);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/fetch-data.sh"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_splits("cifar", "data", 0), InputError);
  const DataSplits yy = load_splits("yinyang", "unused", 0);
  EXPECT_EQ(yy.train.size(), 5000u);
  EXPECT_EQ(yy.validation.size(), 1000u);
  EXPECT_EQ(yy.test.size(), 1000u);
}

}  // namespace
}  // namespace spiketime
