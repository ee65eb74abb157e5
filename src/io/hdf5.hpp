// A small, checked layer over the HDF5 C library: files held in memory (read
// from bytes that io::read_regular_file checked, written as bytes that
// io::write_text_atomically puts in place), groups, and datasets of numbers
// and strings laid out as h5py writes them. Every failure is an InputError
// that names the file and the object.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace spiketime::io::h5 {

// Owns one HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// A group (or the file's root) and where it is, for messages.
struct Group {
  hid_t id;
  std::string path;  // "/node/nodes/linear_0"
};

// A group that was opened or created, closed when this goes.
struct OwnedGroup {
  Handle handle;
  Group group;
  operator const Group&() const { return group; }
};

// An HDF5 file built in memory; image() returns its bytes.
class MemoryWriter {
 public:
  MemoryWriter();
  Group root() const { return {file_.get(), ""}; }
  std::string image();

 private:
  Handle file_;
};

// An HDF5 file read from its bytes; `name` (the path it came from) prefixes
// every message.
class MemoryReader {
 public:
  MemoryReader(const std::string& bytes, const std::string& name);
  Group root() const { return {file_.get(), ""}; }
  const std::string& name() const { return name_; }

  bool has(const Group& g, const std::string& child) const;
  // Throws when the child is missing or is not a group.
  OwnedGroup open_group(const Group& g, const std::string& child) const;
  std::vector<std::string> children(const Group& g) const;

  // A numeric dataset of any integer or float type, converted to double.
  struct Numbers {
    std::vector<uint64_t> dims;  // empty for a scalar
    std::vector<double> values;  // row-major
  };
  Numbers numbers(const Group& g, const std::string& child) const;
  // A string dataset (variable or fixed length), as its elements row-major.
  struct Strings {
    std::vector<uint64_t> dims;
    std::vector<std::string> values;
  };
  Strings strings(const Group& g, const std::string& child) const;
  // A scalar string (or a one-element string array).
  std::string string(const Group& g, const std::string& child) const;

  [[noreturn]] void fail(const Group& g, const std::string& child, const std::string& problem) const;

 private:
  // A dataset, its element type and its size, checked before anything is read.
  struct Dataset {
    Handle set, type;
    H5T_class_t kind;
    uint64_t count;
  };
  Dataset open_dataset(const Group& g, const std::string& child, std::vector<uint64_t>& dims) const;
  Handle file_;
  std::string name_;
};

OwnedGroup create_group(const Group& parent, const std::string& name);
// Datasets as h5py writes them: float64 and int64 little-endian, strings
// variable-length UTF-8. Empty dims: a scalar.
void write_doubles(const Group& g, const std::string& name, const std::vector<double>& values,
                   const std::vector<uint64_t>& dims);
void write_int(const Group& g, const std::string& name, int64_t value);
void write_ints(const Group& g, const std::string& name, const std::vector<int64_t>& values);
void write_string(const Group& g, const std::string& name, const std::string& value);
void write_strings(const Group& g, const std::string& name, const std::vector<std::string>& values,
                   const std::vector<uint64_t>& dims);

}  // namespace spiketime::io::h5
