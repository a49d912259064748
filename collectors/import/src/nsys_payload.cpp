// SPDX-License-Identifier: Apache-2.0
// NVTX extended-payload decoding for the nsys importer: binary payload + schema
// (NVTX_PAYLOAD_SCHEMAS / _ENTRIES) -> JSON object text. Entry type numbers are the
// NVTX_PAYLOAD_ENTRY_TYPE_* values of nvToolsExtPayload.h; entries whose type is a
// schema/enum id (>= 1<<24) are read as unsigned integers of the width left to them.
// Never reads past the data it is given.
#include <cstring>
#include <nlohmann/json.hpp>

#include "nsys_internal.h"

namespace moetune::import::nsys_detail {
namespace {

enum class Kind { Signed, Unsigned, Float, Skip };
struct TypeInfo {
  Kind kind;
  int size;
};

TypeInfo type_info(std::int64_t type) {
  switch (type) {
    case 1: case 11: return {Kind::Signed, 1};         // char, int8
    case 2: case 12: case 25: case 32: return {Kind::Unsigned, 1};  // uchar, uint8, char8, byte
    case 3: case 13: return {Kind::Signed, 2};         // short, int16
    case 4: case 14: case 26: return {Kind::Unsigned, 2};
    case 5: case 15: return {Kind::Signed, 4};         // int, int32
    case 6: case 16: case 27: case 68: case 69: case 71: case 73: return {Kind::Unsigned, 4};
    case 7: case 9: case 17: return {Kind::Signed, 8};  // long (LP64), long long, int64
    case 8: case 10: case 18: case 22: case 23: case 70: case 72: case 74: return {Kind::Unsigned, 8};
    case 19: case 43: return {Kind::Float, 4};
    case 20: case 44: return {Kind::Float, 8};
    default: return {Kind::Skip, 0};
  }
}

std::uint64_t read_le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::optional<std::string> decode_payload(const PayloadSchema& schema, std::string_view data) {
  if (schema.entries.empty()) return std::nullopt;
  if (schema.size > 0 && data.size() < static_cast<std::size_t>(schema.size)) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  nlohmann::json j = nlohmann::json::object();
  std::int64_t next = 0;  // running offset for entries without one
  for (std::size_t i = 0; i < schema.entries.size(); ++i) {
    const auto& e = schema.entries[i];
    TypeInfo ti = type_info(e.type);
    std::int64_t off = e.offset.value_or(0);
    if (!e.offset && i > 0) off = next;
    if (e.type >= (std::int64_t{1} << 24)) {  // enum / nested schema id: width = gap to next field
      std::int64_t end = schema.size > 0 ? schema.size : static_cast<std::int64_t>(data.size());
      if (i + 1 < schema.entries.size() && schema.entries[i + 1].offset) end = *schema.entries[i + 1].offset;
      std::int64_t w = end - off;
      ti = {Kind::Unsigned, w >= 8 ? 8 : w >= 4 ? 4 : w >= 2 ? 2 : w >= 1 ? 1 : 0};
    }
    if (ti.kind == Kind::Skip || ti.size == 0 || off < 0 ||
        static_cast<std::uint64_t>(off) + static_cast<std::uint64_t>(ti.size) > data.size()) {
      next = off + ti.size;
      continue;
    }
    std::string key = e.name.empty() ? "field" + std::to_string(i) : e.name;
    std::uint64_t raw = read_le(bytes + off, ti.size);
    switch (ti.kind) {
      case Kind::Unsigned: j[key] = raw; break;
      case Kind::Signed: {
        int shift = 64 - 8 * ti.size;
        j[key] = static_cast<std::int64_t>(raw << shift) >> shift;
        break;
      }
      case Kind::Float:
        if (ti.size == 4) {
          float f;
          auto u = static_cast<std::uint32_t>(raw);
          std::memcpy(&f, &u, 4);
          j[key] = f;
        } else {
          double d;
          std::memcpy(&d, &raw, 8);
          j[key] = d;
        }
        break;
      case Kind::Skip: break;
    }
    next = off + ti.size;
  }
  if (j.empty()) return std::nullopt;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string payload_bytes(std::string_view column, bool is_text) {
  if (!is_text) return std::string(column);
  // Hex text ("0a1b..." with optional 0x prefix / spaces); anything else is taken raw.
  std::string_view s = column;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  std::string out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == ':' || c == '-') continue;
    else return std::string(column);
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace moetune::import::nsys_detail
