#include "io/container.hpp"

#include <zlib.h>

#include <atomic>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "spiketime/error.hpp"
#include "spiketime/json_text.hpp"

namespace spiketime::io {
namespace {

static_assert(std::endian::native == std::endian::little, "the file formats are little-endian");

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

uint32_t crc32_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), chunk);
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

void write_bytes_atomically(const std::string& path, const std::string& bytes) {
  // A name of its own per process and write: two processes writing the same
  // file never share a temporary (they did: one failed on the other's).
  static std::atomic<unsigned> writes{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writes.fetch_add(1));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw InputError(path + ": cannot write (" + std::strerror(errno) + ")");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw InputError(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot replace (" + std::strerror(errno) + ")");
  }
}

}  // namespace

void write_text_atomically(const std::string& path, const std::string& text) { write_bytes_atomically(path, text); }

std::string container_bytes(const std::string& magic, int version, const nlohmann::json& header,
                            const std::vector<const std::vector<double>*>& arrays) {
  std::string bytes = magic;
  put_u64(bytes, static_cast<uint64_t>(version));
  const std::string text = header.dump();
  put_u64(bytes, text.size());
  bytes += text;
  put_u64(bytes, arrays.size());
  for (const auto* a : arrays) {
    put_u64(bytes, a->size());
    bytes.append(reinterpret_cast<const char*>(a->data()), a->size() * sizeof(double));
  }
  const uint32_t crc = crc32_of(bytes);
  bytes.append(reinterpret_cast<const char*>(&crc), 4);
  return bytes;
}

void write_container(const std::string& path, const std::string& magic, int version, const nlohmann::json& header,
                     const std::vector<const std::vector<double>*>& arrays) {
  write_bytes_atomically(path, container_bytes(magic, version, header, arrays));
}

std::string read_regular_file(const std::string& path, std::uintmax_t max_bytes) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    throw InputError(path + ": cannot open (" + (error ? error.message() : "no such file") + ")");
  }
  if (std::filesystem::is_directory(status)) throw InputError(path + ": is a directory, not a file");
  if (!std::filesystem::is_regular_file(status)) throw InputError(path + ": is not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) throw InputError(path + ": cannot read its size (" + error.message() + ")");
  if (size > max_bytes) {
    throw InputError(path + ": is " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                     " this reader takes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) throw InputError(path + ": read error (the file changed?)");
  return bytes;
}

Container read_container(const std::string& path, const std::string& magic, int version) {
  // Far above any model or checkpoint: a 784-800-10 checkpoint is 15 MB.
  constexpr std::uintmax_t kMaxBytes = std::uintmax_t{16} << 30;
  return parse_container(read_regular_file(path, kMaxBytes), path, magic, version);
}

Container parse_container(const std::string& bytes, const std::string& path, const std::string& magic, int version) {
  if (bytes.size() < magic.size() || bytes.compare(0, magic.size(), magic) != 0) {
    throw InputError(path + ": not a spiketime file of this kind (wrong magic number)");
  }
  if (bytes.size() < magic.size() + 8 + 4) throw InputError(path + ": truncated");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  const std::string body = bytes.substr(0, bytes.size() - 4);
  std::size_t pos = magic.size();
  auto get_u64 = [&](const char* what) {
    if (pos + 8 > body.size()) throw InputError(path + ": truncated (in " + what + ")");
    uint64_t v;
    std::memcpy(&v, body.data() + pos, 8);
    pos += 8;
    return v;
  };
  const uint64_t file_version = get_u64("the version");
  if (file_version != static_cast<uint64_t>(version)) {
    throw InputError(path + ": format version " + std::to_string(file_version) + ", this build reads version " +
                     std::to_string(version));
  }
  if (crc32_of(body) != stored_crc) throw InputError(path + ": checksum mismatch (truncated or corrupted file)");
  Container c;
  const uint64_t header_size = get_u64("the header size");
  if (header_size > body.size() - pos) throw InputError(path + ": truncated (in the header)");
  try {
    c.header = parse_json(body.substr(pos, header_size), "");
  } catch (const InputError& e) {
    throw InputError(path + ": corrupted header (" + e.what() + ")");
  }
  pos += header_size;
  const uint64_t n_arrays = get_u64("the array count");
  for (uint64_t a = 0; a < n_arrays; ++a) {
    const uint64_t n = get_u64("an array size");
    if (n > (body.size() - pos) / sizeof(double)) throw InputError(path + ": truncated (in array " + std::to_string(a) + ")");
    std::vector<double> values(n);
    std::memcpy(values.data(), body.data() + pos, n * sizeof(double));
    pos += n * sizeof(double);
    c.arrays.push_back(std::move(values));
  }
  if (pos != body.size()) throw InputError(path + ": unexpected data after the last array");
  return c;
}

}  // namespace spiketime::io
