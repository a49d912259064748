// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/op_list.h"

#include <cstdlib>

#include "varint.h"

namespace moetune {

namespace {
constexpr char kUnset = -1;

// Entries: a non-zero value is its varint; a run of n zeros is 0 then varint(n - 1).
void encode_values(std::string& out, const std::vector<std::int64_t>& v) {
  for (std::size_t i = 0; i < v.size();) {
    if (v[i] != 0) {
      varint::put(out, static_cast<std::uint64_t>(v[i++]));
      continue;
    }
    std::size_t j = i;
    while (j < v.size() && v[j] == 0) ++j;
    varint::put(out, 0);
    varint::put(out, j - i - 1);
    i = j;
  }
}

// A damaged or crafted list stops at this many entries (a zero run of 2^62 would
// otherwise run for ever and fill memory).
constexpr std::uint64_t kMaxEntries = 1ull << 22;

template <class Fn>
void for_each_value(std::string_view payload, Fn&& fn) {
  std::size_t pos = 0;
  std::uint64_t v = 0, run = 0, n = 0;
  while (pos < payload.size() && varint::get(payload, pos, v)) {
    if (++n > kMaxEntries) return;
    if (v != 0) {
      fn(static_cast<std::int64_t>(v));
      continue;
    }
    if (!varint::get(payload, pos, run) || run >= kMaxEntries - n + 1) return;
    n += run;
    for (std::uint64_t k = 0; k <= run; ++k) fn(0);
  }
}

// "[a,b,c]" / "[a, b, c]" with plain non-negative integers (no leading zeros, at most 18
// digits) and one separator style throughout; anything else returns false.
bool parse_plain(std::string_view s, std::vector<std::int64_t>& out, char& style) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  style = kUnset;
  std::size_t i = 1;
  const std::size_t end = s.size() - 1;
  if (i == end) {
    style = 1;
    return true;
  }
  for (;;) {
    std::size_t d = i;
    std::int64_t v = 0;
    while (i < end && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    const std::size_t digits = i - d;
    if (digits == 0 || digits > 18 || (digits > 1 && s[d] == '0')) return false;
    out.push_back(v);
    if (i == end) break;
    if (s[i] != ',') return false;
    ++i;
    char st = 1;
    if (i < end && s[i] == ' ') ++i, st = 2;
    if (style == kUnset) style = st;
    else if (style != st) return false;
  }
  if (style == kUnset) style = 1;
  return true;
}

}  // namespace

void OpList::assign(std::string_view json) {
  std::vector<std::int64_t> v;
  char style = 0;
  auto s = std::make_shared<std::string>();
  if (parse_plain(json, v, style)) {
    *s += style;
    encode_values(*s, v);
  } else {
    *s += kRaw;
    s->append(json);
  }
  data_ = std::move(s);
}

OpList OpList::of(const std::vector<std::int64_t>& values, bool comma_space) {
  OpList l;
  auto s = std::make_shared<std::string>();
  bool plain = true;
  for (auto v : values) plain = plain && v >= 0;
  if (plain) {
    *s += comma_space ? kCommaSpace : kComma;
    encode_values(*s, values);
  } else {
    *s += kRaw;
    *s += '[';
    for (std::size_t i = 0; i < values.size(); ++i)
      *s += (i ? (comma_space ? ", " : ",") : "") + std::to_string(values[i]);
    *s += ']';
  }
  l.data_ = std::move(s);
  return l;
}

OpList OpList::from_encoded(std::string bytes) {
  OpList l;
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) > kCommaSpace) bytes.insert(bytes.begin(), kRaw);
  l.data_ = std::make_shared<const std::string>(std::move(bytes));
  return l;
}

const std::string& OpList::encoded() const {
  static const std::string kNone;
  return data_ ? *data_ : kNone;
}

std::string OpList::text() const {
  if (!data_ || data_->empty()) return {};
  std::string_view payload(*data_);
  payload.remove_prefix(1);
  if ((*data_)[0] == kRaw) return std::string(payload);
  const char* sep = (*data_)[0] == kCommaSpace ? ", " : ",";
  std::string out = "[";
  bool first = true;
  for_each_value(payload, [&](std::int64_t v) {
    if (!first) out += sep;
    first = false;
    out += std::to_string(v);
  });
  out += ']';
  return out;
}

std::vector<std::int64_t> OpList::values() const {
  std::vector<std::int64_t> out;
  if (compact()) for_each_value(std::string_view(*data_).substr(1), [&](std::int64_t v) { out.push_back(v); });
  return out;
}

std::size_t OpList::size() const {
  std::size_t n = 0;
  if (compact()) for_each_value(std::string_view(*data_).substr(1), [&](std::int64_t) { ++n; });
  return n;
}

double OpList::sum() const {
  if (!data_ || data_->empty()) return 0;
  if (compact()) {
    double t = 0;
    for_each_value(std::string_view(*data_).substr(1), [&](std::int64_t v) { t += static_cast<double>(v); });
    return t;
  }
  // Verbatim text: add up the numbers in it ("[1.5, 2e3]").
  std::string s = data_->substr(1);
  double t = 0;
  const char* p = s.c_str();
  while (*p) {
    if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '.') {
      char* end = nullptr;
      double v = std::strtod(p, &end);
      if (end == p) {
        ++p;
        continue;
      }
      t += v;
      p = end;
    } else {
      ++p;
    }
  }
  return t;
}

}  // namespace moetune
