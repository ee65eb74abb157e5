#include "io/hdf5.hpp"

#include <cstring>
#include <numeric>

#include "spiketime/error.hpp"

namespace spiketime::io::h5 {
namespace {

// No dataset read here holds more elements than this (a 784-800-10 network
// has 627,200 weights): a damaged or hostile header cannot make the reader
// allocate more.
constexpr uint64_t kMaxElements = uint64_t{1} << 28;
constexpr int kMaxRank = 8;

// The library prints its own error stack to stderr by default; the messages
// here replace it.
void silence_library() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

[[noreturn]] void write_failed(const Group& g, const std::string& name) {
  throw InputError("HDF5: cannot write " + g.path + "/" + name);
}

Handle check_created(hid_t id, const Group& g, const std::string& name, Handle::Closer close) {
  if (id < 0) write_failed(g, name);
  return Handle(id, close);
}

Handle string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

Handle dataspace(const std::vector<uint64_t>& dims) {
  if (dims.empty()) return Handle(H5Screate(H5S_SCALAR), H5Sclose);
  const std::vector<hsize_t> d(dims.begin(), dims.end());
  return Handle(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), H5Sclose);
}

void write_dataset(const Group& g, const std::string& name, hid_t file_type, hid_t memory_type,
                   const std::vector<uint64_t>& dims, const void* data) {
  const Handle space = dataspace(dims);
  const Handle set = check_created(
      H5Dcreate2(g.id, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), g, name, H5Dclose);
  if (H5Dwrite(set.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) write_failed(g, name);
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (valid() && close_) close_(id_);
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

Handle::~Handle() {
  if (valid() && close_) close_(id_);
}

MemoryWriter::MemoryWriter() {
  silence_library();
  // The core driver without a backing store: the file lives in memory only.
  const Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(access.get(), 1 << 20, 0);
  file_ = Handle(H5Fcreate("spiketime-image.h5", H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
  if (!file_.valid()) throw InputError("HDF5: cannot create a file in memory");
}

std::string MemoryWriter::image() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) throw InputError("HDF5: cannot finish the file");
  const ssize_t size = H5Fget_file_image(file_.get(), nullptr, 0);
  if (size < 0) throw InputError("HDF5: cannot read the file image");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (H5Fget_file_image(file_.get(), bytes.data(), bytes.size()) != size) {
    throw InputError("HDF5: cannot read the file image");
  }
  return bytes;
}

MemoryReader::MemoryReader(const std::string& bytes, const std::string& name) : name_(name) {
  silence_library();
  static const char kSignature[] = "\x89HDF\r\n\x1a\n";
  // HDF5 files may carry a user block before the signature, at 0 or a power
  // of two from 512 bytes; NIR files never do, so only offset 0 is looked at.
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) {
    throw InputError(name_ + ": not an HDF5 file (no HDF5 signature at its start)");
  }
  const Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(access.get(), 1 << 20, 0);
  // H5Pset_file_image copies the bytes; the library only reads its copy.
  H5Pset_file_image(access.get(), const_cast<char*>(bytes.data()), bytes.size());
  file_ = Handle(H5Fopen("spiketime-image.h5", H5F_ACC_RDONLY, access.get()), H5Fclose);
  if (!file_.valid()) throw InputError(name_ + ": damaged or truncated HDF5 file (the library cannot open it)");
}

void MemoryReader::fail(const Group& g, const std::string& child, const std::string& problem) const {
  throw InputError(name_ + ": " + g.path + "/" + child + " " + problem);
}

bool MemoryReader::has(const Group& g, const std::string& child) const {
  if (child.empty() || child.find('/') != std::string::npos) return false;
  return H5Lexists(g.id, child.c_str(), H5P_DEFAULT) > 0;
}

OwnedGroup MemoryReader::open_group(const Group& g, const std::string& child) const {
  if (!has(g, child)) fail(g, child, "is missing");
  Handle group(H5Gopen2(g.id, child.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail(g, child, "is not a group");
  const hid_t id = group.get();
  return {std::move(group), {id, g.path + "/" + child}};
}

std::vector<std::string> MemoryReader::children(const Group& g) const {
  H5G_info_t info;
  if (H5Gget_info(g.id, &info) < 0) throw InputError(name_ + ": " + g.path + " cannot be listed");
  if (info.nlinks > kMaxElements) throw InputError(name_ + ": " + g.path + " has too many members");
  std::vector<std::string> names;
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    const ssize_t size = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, k, nullptr, 0, H5P_DEFAULT);
    if (size < 0) throw InputError(name_ + ": " + g.path + " cannot be listed");
    std::string name(static_cast<std::size_t>(size) + 1, '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, k, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(size));
    names.push_back(std::move(name));
  }
  return names;
}

MemoryReader::Dataset MemoryReader::open_dataset(const Group& g, const std::string& child,
                                                 std::vector<uint64_t>& dims) const {
  if (!has(g, child)) fail(g, child, "is missing");
  Handle set(H5Dopen2(g.id, child.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) fail(g, child, "is not a dataset");
  const Handle space(H5Dget_space(set.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > kMaxRank) fail(g, child, "has an unreadable shape");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), d.data(), nullptr) < 0) fail(g, child, "has an unreadable shape");
  uint64_t count = H5Sget_simple_extent_type(space.get()) == H5S_NULL ? 0 : 1;
  for (hsize_t n : d) {
    if (n != 0 && count > kMaxElements / n) fail(g, child, "is larger than this reader takes");
    count *= n;
  }
  dims.assign(d.begin(), d.end());
  Handle type(H5Dget_type(set.get()), H5Tclose);
  const H5T_class_t kind = H5Tget_class(type.get());
  return {std::move(set), std::move(type), kind, count};
}

MemoryReader::Numbers MemoryReader::numbers(const Group& g, const std::string& child) const {
  Numbers out;
  const Dataset d = open_dataset(g, child, out.dims);
  if (d.kind != H5T_FLOAT && d.kind != H5T_INTEGER) fail(g, child, "must hold numbers");
  out.values.resize(d.count);
  if (d.count > 0 && H5Dread(d.set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0) {
    fail(g, child, "cannot be read (damaged file?)");
  }
  return out;
}

MemoryReader::Strings MemoryReader::strings(const Group& g, const std::string& child) const {
  Strings out;
  const Dataset d = open_dataset(g, child, out.dims);
  if (d.kind != H5T_STRING) fail(g, child, "must hold strings");
  const uint64_t count = d.count;
  const Handle& set = d.set;
  const Handle& type = d.type;
  if (count == 0) return out;
  const Handle space(H5Dget_space(set.get()), H5Sclose);
  const Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(memory.get(), H5T_VARIABLE);
    std::vector<char*> texts(count, nullptr);
    if (H5Dread(set.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()) < 0) {
      for (char* t : texts) H5free_memory(t);  // what a read cut short had taken (found by fuzz_nir)
      fail(g, child, "cannot be read (damaged file?)");
    }
    for (const char* t : texts) out.values.emplace_back(t ? t : "");
#if H5_VERS_MAJOR > 1 || H5_VERS_MINOR >= 12
    H5Treclaim(memory.get(), space.get(), H5P_DEFAULT, texts.data());
#else
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, texts.data());
#endif
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || size > (std::size_t{1} << 20) || count > kMaxElements / size) {
    fail(g, child, "has strings of an unreadable size");
  }
  H5Tset_size(memory.get(), size);
  std::string buffer(count * size, '\0');
  if (H5Dread(set.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    fail(g, child, "cannot be read (damaged file?)");
  }
  for (uint64_t k = 0; k < count; ++k) {
    std::string s = buffer.substr(k * size, size);
    s.resize(std::strlen(s.c_str()));  // null-terminated or null-padded
    while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded
    out.values.push_back(std::move(s));
  }
  return out;
}

std::string MemoryReader::string(const Group& g, const std::string& child) const {
  Strings s = strings(g, child);
  if (s.values.size() != 1) fail(g, child, "must be one string");
  return s.values[0];
}

OwnedGroup create_group(const Group& parent, const std::string& name) {
  Handle group = check_created(H5Gcreate2(parent.id, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), parent,
                               name, H5Gclose);
  const hid_t id = group.get();
  return {std::move(group), {id, parent.path + "/" + name}};
}

void write_doubles(const Group& g, const std::string& name, const std::vector<double>& values,
                   const std::vector<uint64_t>& dims) {
  const uint64_t count = std::accumulate(dims.begin(), dims.end(), uint64_t{1}, std::multiplies<>());
  if (count != values.size()) throw InputError("HDF5: " + g.path + "/" + name + ": values do not fill the shape");
  write_dataset(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, values.data());
}

void write_int(const Group& g, const std::string& name, int64_t value) {
  write_dataset(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void write_ints(const Group& g, const std::string& name, const std::vector<int64_t>& values) {
  write_dataset(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {values.size()}, values.data());
}

void write_string(const Group& g, const std::string& name, const std::string& value) {
  write_strings(g, name, {value}, {});
}

void write_strings(const Group& g, const std::string& name, const std::vector<std::string>& values,
                   const std::vector<uint64_t>& dims) {
  const uint64_t count = std::accumulate(dims.begin(), dims.end(), uint64_t{1}, std::multiplies<>());
  if (count != values.size()) throw InputError("HDF5: " + g.path + "/" + name + ": values do not fill the shape");
  std::vector<const char*> texts;
  for (const std::string& v : values) texts.push_back(v.c_str());
  const Handle type = string_type();
  write_dataset(g, name, type.get(), type.get(), dims, texts.data());
}

}  // namespace spiketime::io::h5
