// The names of an enum's values, as config files, model headers and NIR
// metadata write them: one table per enum (its name and parse functions
// read it both ways), so that a name and its parse cannot drift apart.
#pragma once

#include <cstddef>
#include <string>

#include "spiketime/error.hpp"

namespace spiketime {

template <class E>
struct Named {
  E value;
  const char* name;
};

// The name of `value` in the table (every value of the enum has one).
template <class E, std::size_t N>
const char* name_in(const Named<E> (&table)[N], E value) {
  for (const Named<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return table[0].name;
}

// The value named `name`; otherwise InputError "unknown <what> '<name>'
// (a, b or c)", listing the table's names.
template <class E, std::size_t N>
E value_in(const Named<E> (&table)[N], const std::string& name, const char* what) {
  std::string names;
  for (std::size_t k = 0; k < N; ++k) {
    if (name == table[k].name) return table[k].value;
    names += std::string(k == 0 ? "" : k + 1 == N ? " or " : ", ") + table[k].name;
  }
  throw InputError(std::string("unknown ") + what + " '" + name + "' (" + names + ")");
}

}  // namespace spiketime
