// SPDX-License-Identifier: Apache-2.0
// Strings that end in a long list of integers (format 3): an MoE application's routing
// marks ("moe.route layer=3 tokens=31,33,32,...", one per rank, layer and step, one number
// per expert) are unique texts of ~4 bytes per expert; at 1024 ranks and 256 experts they
// were 6.3 of the store's bytes per event. Such a string is stored as a BLOB: tag byte 1,
// varint length of the text before the list, that text, then the list as OpList::stored()
// (bit-packed where smaller). The reader expands it on open, so every consumer sees the
// same text. Only a tail of >= kMinEntries plain integers ("12,0,7": no signs, spaces or
// leading zeros) that saves >= kMinSaving bytes is packed; anything else stays TEXT.
#include "compact_store.h"
#include "varint.h"

namespace moetune {

namespace {
constexpr char kTag = 1;
constexpr std::size_t kMinEntries = 8, kMinSaving = 16;
bool list_char(char c) { return (c >= '0' && c <= '9') || c == ','; }
}  // namespace

bool pack_string(std::string_view s, std::string& out) {
  std::size_t p = s.size();
  while (p > 0 && list_char(s[p - 1])) --p;
  while (p < s.size() && s[p] == ',') ++p;
  const std::string_view tail = s.substr(p);
  if (tail.size() < 2 * kMinEntries) return false;
  OpList l("[" + std::string(tail) + "]");
  if (!l.compact() || l.size() < kMinEntries || l.text().size() != tail.size() + 2) return false;
  out.clear();
  out += kTag;
  varint::put(out, p);
  out.append(s.substr(0, p));
  out += l.stored();
  return out.size() + kMinSaving <= s.size();
}

std::optional<std::string> unpack_string(std::string_view blob) {
  std::size_t pos = 1;
  std::uint64_t n = 0;
  if (blob.empty() || blob[0] != kTag || !varint::get(blob, pos, n) || n > blob.size() - pos) return std::nullopt;
  std::string out(blob.substr(pos, n));
  OpList l = OpList::from_stored(std::string(blob.substr(pos + n)));
  if (!l.compact()) return std::nullopt;
  const std::string t = l.text();
  out.append(t, 1, t.size() - 2);  // without the brackets
  return out;
}

}  // namespace moetune
