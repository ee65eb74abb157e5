// JSON from text, the one way every reader takes it (simulate cases,
// configs, --set values, file headers): the nesting is bounded, and an error
// names the path in the document where it happens.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace spiketime {

// Deeper than any document of ours (a simulate case nests 4 levels). nlohmann
// parses without recursion, but copies and comparisons recurse: a config
// nested 70,000 deep overflowed the stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses text or throws one InputError: "<source>: <path>: malformed JSON:
// <reason>" (no source prefix when source is empty) or "... nested deeper
// than 64 levels".
nlohmann::json parse_json(const std::string& text, const std::string& source);

}  // namespace spiketime
