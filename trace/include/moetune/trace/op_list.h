// SPDX-License-Identifier: Apache-2.0
// OpList: a list of integers an NCCL op carries (all-to-all split sizes, process group
// ranks), held the way the store holds it. A 1024-rank all-to-all has 1024 split sizes
// per rank and op; as JSON text that was ~5 KB per list and per op. An OpList keeps a
// compact form (varints, runs of zeros folded) behind a shared pointer: every op that
// carries the same list (the group's ranks, the equal chunks of one dispatch) shares
// one copy in memory, and the writer stores each distinct list once (nccl_lists).
// Text that is not a plain list of non-negative integers ("[1.5]", odd spacing) is kept
// verbatim. For code that wants the JSON text it reads like std::optional<std::string>:
// `if (op.in_splits) use(*op.in_splits)`, `op.in_splits.value_or("")`. The text of a
// compact list is rebuilt exactly as given: "[a,b]" or "[a, b]" (the separator is kept).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moetune {

class OpList {
 public:
  OpList() = default;
  OpList(std::nullopt_t) {}
  OpList(std::string_view json) { assign(json); }
  OpList(const std::string& json) { assign(json); }
  OpList(const char* json) { assign(json); }
  OpList(const std::optional<std::string>& json) {
    if (json) assign(*json);
  }
  // From integers: the compact form, "[a,b,...]" as text ("[a, b, ...]" with comma_space).
  static OpList of(const std::vector<std::int64_t>& values, bool comma_space = false);
  // From the stored bytes (encoded(): tag byte + payload).
  static OpList from_encoded(std::string bytes);

  bool has_value() const { return data_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  void reset() { data_.reset(); }
  // The JSON text.
  std::string operator*() const { return text(); }
  std::string text() const;
  std::string value_or(std::string_view fallback) const { return has_value() ? text() : std::string(fallback); }

  // True when held compactly (a list of non-negative integers).
  bool compact() const { return data_ && !data_->empty() && (*data_)[0] != kRaw; }
  // The integers (empty when not compact).
  std::vector<std::int64_t> values() const;
  // Sum of the entries (numbers found in the text when not compact).
  double sum() const;
  std::size_t size() const;  // entries (0 when not compact)
  // Tag byte + payload, as nccl_lists.data stores it (raw text: tag 0 + text).
  const std::string& encoded() const;
  // The bytes the store keeps (nccl_lists.data, expert_counts lists; list_pack.cpp):
  // encoded(), or where that is smaller a bit-packed form (the evenly spaced non-zero
  // entries of a split list, each as a few bits over the smallest). from_stored() reads
  // either back to the same list (encoded() equal); damaged packed bytes give no list.
  std::string stored() const;
  static OpList from_stored(std::string bytes);
  bool operator==(const OpList& o) const { return encoded() == o.encoded(); }

 private:
  static constexpr char kRaw = 0, kComma = 1, kCommaSpace = 2;
  void assign(std::string_view json);
  std::shared_ptr<const std::string> data_;
};

}  // namespace moetune
