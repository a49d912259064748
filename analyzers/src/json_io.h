// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: JSON in and out.
//  - read_json_file: the JSON files the analyzers take as input (placement plans, tuning
//    profiles), as JSON or as the struct they hold; errors are one line naming the file.
//  - JsonWrite / JsonRead: the two directions of one field list. A struct's plain fields
//    are listed once, as `f("key", s.field)` calls in a visitor template; to_json passes a
//    JsonWrite, *_from_json a JsonRead, so a key cannot be added to one side only.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "moetune/trace/result.h"

namespace moetune::analyzers::detail {

// The parsed document; "FILE: cannot open" or "FILE: not valid JSON".
inline Expected<nlohmann::json> read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return Error{file.string() + ": cannot open"};
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return Error{file.string() + ": not valid JSON"};
  return j;
}
// The file read as a T by `from_json(document, file name)` (placement_from_json, ...).
template <class T>
Expected<T> read_json_file(const std::filesystem::path& file,
                           Expected<T> (*from_json)(const nlohmann::json&, const std::string&)) {
  auto j = read_json_file(file);
  if (!j) return j.error();
  return from_json(*j, file.string());
}

struct JsonWrite {
  nlohmann::json& j;
  template <class T>
  void operator()(const char* key, const T& v) const {
    j[key] = v;
  }
};
// Throws nlohmann::json::exception on a missing key or a value of another type.
struct JsonRead {
  const nlohmann::json& j;
  template <class T>
  void operator()(const char* key, T& v) const {
    v = j.at(key).template get<T>();
  }
};

}  // namespace moetune::analyzers::detail
