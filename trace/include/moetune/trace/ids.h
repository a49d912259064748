// SPDX-License-Identifier: Apache-2.0
// Strong id types: a RankId cannot be passed where a StringId is expected.
#pragma once
#include <compare>
#include <cstdint>
#include <functional>

namespace moetune {

template <class Tag>
struct Id {
  std::int64_t value = -1;
  constexpr Id() = default;
  constexpr explicit Id(std::int64_t v) : value(v) {}
  constexpr bool valid() const { return value >= 0; }
  constexpr auto operator<=>(const Id&) const = default;
};

struct RankTag {};
struct StreamTag {};
struct StringTag {};
using RankId = Id<RankTag>;
using StreamId = Id<StreamTag>;
using StringId = Id<StringTag>;

}  // namespace moetune

template <class Tag>
struct std::hash<moetune::Id<Tag>> {
  std::size_t operator()(const moetune::Id<Tag>& id) const noexcept {
    return std::hash<std::int64_t>{}(id.value);
  }
};
