// SPDX-License-Identifier: Apache-2.0
// fuzz_regression: runs every fuzz entry (see fuzz_registry.h) over its corpus in
// tests/data/fuzz/<name>/ (seeds from real traces + every crash libFuzzer found) and
// then over a deterministic mutation pass of those seeds (fixed RNG seed: byte flips,
// truncations, insertions, deletions, chunk copies), so each test run fuzzes a little.
// A crash or sanitizer report fails the run; entries abort on contract violations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fuzz_registry.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> corpus(const char* name) {
  std::vector<fs::path> files;
  fs::path dir = fs::path(MOETUNE_FUZZ_CORPUS) / name;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// One mutation of `s`, chosen and placed by `rng`.
std::string mutate(std::string s, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  static const char kTokens[] = "{}[]\":,0123456789.-eE \\ntfu";
  switch (rng() % 6) {
    case 0:  // flip a bit
      if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
      break;
    case 1:  // truncate
      s.resize(pick(s.size() + 1));
      break;
    case 2:  // insert a JSON-ish byte
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)), kTokens[pick(sizeof kTokens - 1)]);
      break;
    case 3: {  // delete a range
      std::size_t at = pick(s.size() + 1), n = std::min<std::size_t>(pick(64) + 1, s.size() - at);
      s.erase(at, n);
      break;
    }
    case 4: {  // copy a chunk elsewhere
      if (s.empty()) break;
      std::size_t at = pick(s.size()), n = std::min<std::size_t>(pick(256) + 1, s.size() - at);
      std::string chunk = s.substr(at, n);
      s.insert(pick(s.size() + 1), chunk);
      break;
    }
    default:  // overwrite a byte with a JSON-ish one
      if (!s.empty()) s[pick(s.size())] = kTokens[pick(sizeof kTokens - 1)];
  }
  return s;
}

int mutations_per_entry() {
  if (const char* v = std::getenv("MOETUNE_FUZZ_MUTATIONS")) return std::max(0, std::atoi(v));
  return 2000;
}

class FuzzRegression : public ::testing::TestWithParam<FuzzEntry> {};

TEST_P(FuzzRegression, CorpusReplays) {
  const FuzzEntry& e = GetParam();
  auto files = corpus(e.name);
  ASSERT_FALSE(files.empty()) << "no corpus in tests/data/fuzz/" << e.name;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::string data = slurp(f);
    EXPECT_EQ(e.run(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), 0);
  }
}

TEST_P(FuzzRegression, DeterministicMutations) {
  const FuzzEntry& e = GetParam();
  std::vector<std::string> seeds;
  for (const auto& f : corpus(e.name)) {
    std::string d = slurp(f);
    if (d.size() <= 64 * 1024) seeds.push_back(std::move(d));  // small seeds keep the pass quick
  }
  ASSERT_FALSE(seeds.empty()) << "no seed under 64 KiB in tests/data/fuzz/" << e.name;
  std::mt19937_64 rng(0x6d6f6574756e65ULL);  // fixed: every run tries the same inputs
  const int n = mutations_per_entry();
  for (int i = 0; i < n; ++i) {
    std::string s = seeds[static_cast<std::size_t>(i) % seeds.size()];
    int rounds = 1 + static_cast<int>(rng() % 4);
    for (int r = 0; r < rounds; ++r) s = mutate(std::move(s), rng);
    ASSERT_EQ(e.run(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()), 0) << "mutation " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Entries, FuzzRegression, ::testing::ValuesIn(fuzz_entries()),
                         [](const ::testing::TestParamInfo<FuzzEntry>& i) { return std::string(i.param.name); });

}  // namespace
