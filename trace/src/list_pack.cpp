// SPDX-License-Identifier: Apache-2.0
// OpList::stored / from_stored: the bit-packed form of an integer list in the store.
// An expert-parallel all-to-all's split list has one entry per peer, but only the ranks
// that hold experts receive tokens, and those usually sit at a fixed stride (experts
// spread evenly over the ranks); the sizes themselves differ by little. So the packed
// form names the positions that carry values (the non-zero entries when they are evenly
// spaced, else every entry) and stores each value as `width` bits over the smallest:
//
//   tag (0x10 | separator style 1 or 2), varint n (entries), varint offset, varint stride,
//   varint m (positions), varint base, one byte width (0..64), then m x width bits,
//   little-endian, position k's value at offset + k x stride, every other entry 0.
//
// A 1024-peer split list with 256 receivers of 7 or 8 elements: 769 bytes as varints with
// folded zeros (op_list.cpp), 41 here (10 header bytes + 256 one-bit values). The packed
// form is used only when smaller.
#include <algorithm>
#include <limits>

#include "moetune/trace/op_list.h"
#include "varint.h"

namespace moetune {

namespace {
constexpr unsigned char kPackedTag = 0x10;
// A damaged or crafted packed list cannot make the reader allocate more than this.
constexpr std::uint64_t kMaxEntries = 1ull << 22;

int bits_for(std::uint64_t v) {
  int b = 0;
  while (v) ++b, v >>= 1;
  return b;
}

void put_bits(std::string& out, std::uint64_t& acc, int& nacc, std::uint64_t v, int w) {
  while (w > 0) {
    const int take = std::min(w, 56);
    acc |= (v & ((1ull << take) - 1)) << nacc;
    nacc += take;
    v = take < 64 ? v >> take : 0;
    w -= take;
    while (nacc >= 8) {
      out += static_cast<char>(acc & 0xff);
      acc >>= 8;
      nacc -= 8;
    }
  }
}

bool get_bits(std::string_view in, std::size_t& pos, std::uint64_t& acc, int& nacc, int w, std::uint64_t& v) {
  v = 0;
  for (int got = 0; got < w;) {
    if (nacc == 0) {
      if (pos >= in.size()) return false;
      acc = static_cast<unsigned char>(in[pos++]);
      nacc = 8;
    }
    const int take = std::min(w - got, nacc);
    v |= (acc & ((1ull << take) - 1)) << got;
    acc >>= take;
    nacc -= take;
    got += take;
  }
  return true;
}
}  // namespace

std::string OpList::stored() const {
  if (!compact()) return encoded();
  const std::vector<std::int64_t> v = values();
  const std::uint64_t n = v.size();
  // Positions carrying values: the non-zero entries when evenly spaced, else all.
  std::uint64_t first = 0, stride = 0, m = 0, prev = 0;
  bool even = true;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (v[i] == 0) continue;
    if (m == 0) first = i;
    else if (m == 1) stride = i - prev;
    else if (i - prev != stride) even = false;
    prev = i, ++m;
  }
  std::uint64_t offset = first;
  if (!even) offset = 0, stride = 1, m = n;
  else if (m <= 1) stride = 1;
  std::uint64_t lo = m ? std::numeric_limits<std::uint64_t>::max() : 0, hi = 0;
  for (std::uint64_t k = 0; k < m; ++k) {
    auto x = static_cast<std::uint64_t>(v[offset + k * stride]);
    lo = std::min(lo, x), hi = std::max(hi, x);
  }
  const int w = bits_for(hi - lo);
  std::string out;
  out += static_cast<char>(kPackedTag | static_cast<unsigned char>((*data_)[0]));
  for (std::uint64_t h : {n, offset, stride, m, lo}) varint::put(out, h);
  out += static_cast<char>(w);
  if ((m * static_cast<std::uint64_t>(w) + 7) / 8 + out.size() >= encoded().size()) return encoded();
  std::uint64_t acc = 0;
  int nacc = 0;
  for (std::uint64_t k = 0; k < m; ++k) put_bits(out, acc, nacc, static_cast<std::uint64_t>(v[offset + k * stride]) - lo, w);
  if (nacc > 0) out += static_cast<char>(acc & 0xff);
  return out.size() < encoded().size() ? out : encoded();
}

OpList OpList::from_stored(std::string bytes) {
  if (bytes.empty()) return from_encoded(std::move(bytes));
  const auto tag = static_cast<unsigned char>(bytes[0]);
  if (tag != (kPackedTag | kComma) && tag != (kPackedTag | kCommaSpace)) return from_encoded(std::move(bytes));
  std::string_view in(bytes);
  std::size_t pos = 1;
  std::uint64_t h[5];
  for (auto& x : h)
    if (!varint::get(in, pos, x)) return {};
  const auto [n, offset, stride, m, lo] = h;
  if (pos >= in.size()) return {};
  const int w = static_cast<unsigned char>(in[pos++]);
  // Every position inside the list, the bits present, every value within int64.
  if (n > kMaxEntries || m > n || w > 64 || (m > 0 && (stride > n || offset + (m - 1) * stride >= n)) ||
      m * static_cast<std::uint64_t>(w) > 8 * (in.size() - pos) ||
      lo > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return {};
  std::vector<std::int64_t> v(n, 0);
  std::uint64_t acc = 0, d = 0;
  int nacc = 0;
  for (std::uint64_t k = 0; k < m; ++k) {
    if (!get_bits(in, pos, acc, nacc, w, d)) return {};
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - lo) return {};
    v[offset + k * stride] = static_cast<std::int64_t>(lo + d);
  }
  return of(v, (tag & 0x0f) == kCommaSpace);
}

}  // namespace moetune
