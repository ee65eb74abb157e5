// The NIR reader itself, in the calling process: import_nir (nir.hpp) runs it
// in a child process; the fuzz target calls it directly, so that faults in
// our own code stay visible to the fuzzer.
#pragma once

#include <string>

#include "spiketime/model.hpp"
#include "spiketime/nir.hpp"

namespace spiketime::io {

// The model in a NIR file's bytes; `path` names them in errors.
Model read_nir(const std::string& bytes, const std::string& path, const NirImportOptions& options);

}  // namespace spiketime::io
