// SPDX-License-Identifier: Apache-2.0
#include "placement.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace moe {
namespace {
using moetune::Error;

// A JSON object key that is a whole non-negative index ("3"), else -1.
int index_key(const std::string& key) {
  try {
    size_t pos = 0;
    int i = std::stoi(key, &pos);
    return pos == key.size() && i >= 0 ? i : -1;
  } catch (...) {
    return -1;
  }
}
}  // namespace

std::vector<int> Placement::local_experts(int layer, int rank) const {
  std::vector<int> out;
  for (int e = 0; e < experts; ++e) {
    const auto& c = copies[layer][e];
    if (std::find(c.begin(), c.end(), rank) != c.end()) out.push_back(e);
  }
  return out;
}

int Placement::max_local_experts() const {
  int m = 0;
  for (int l = 0; l < layers; ++l)
    for (int r = 0; r < nranks; ++r) m = std::max<int>(m, local_experts(l, r).size());
  return m;
}

std::string Placement::nvtx_map(int layer) const {
  std::string s;
  for (int e = 0; e < experts; ++e) {
    if (e) s += ',';
    s += std::to_string(e) + ':';
    const auto& c = copies[layer][e];
    for (size_t i = 0; i < c.size(); ++i) {
      if (i) s += '|';
      s += std::to_string(c[i]);
    }
  }
  return s;
}

bool Placement::replicated() const {
  for (auto& l : copies)
    for (auto& c : l)
      if (c.size() > 1) return true;
  return false;
}

Placement default_placement(int layers, int experts, int nranks) {
  Placement p{layers, experts, nranks, {}};
  p.copies.assign(layers, std::vector<std::vector<int>>(experts));
  for (int l = 0; l < layers; ++l)
    for (int e = 0; e < experts; ++e) p.copies[l][e] = {e % nranks};
  return p;
}

moetune::Expected<Placement> parse_placement(const std::string& text, const std::string& path, int layers,
                                             int experts, int nranks) {
  auto bad = [&](const std::string& what) { return Error{path + ": " + what}; };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("not JSON");
  if (!j.is_object()) return bad("not a JSON object");
  if (j.value("format", std::string()) != "moetune-placement") return bad("\"format\" is not \"moetune-placement\"");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    return bad("unsupported \"version\" (this sample reads version 1)");
  if (!j.contains("experts") || !j["experts"].is_number_integer() || j["experts"].get<int>() != experts)
    return bad("\"experts\" must be " + std::to_string(experts) + " (the run's --experts)");
  if (!j.contains("ranks") || !j["ranks"].is_number_integer() || j["ranks"].get<int>() != nranks)
    return bad("\"ranks\" must be " + std::to_string(nranks) + " (the run's rank count)");
  if (!j.contains("layers") || !j["layers"].is_object()) return bad("\"layers\" is missing or not an object");
  Placement p = default_placement(layers, experts, nranks);
  for (auto& [lkey, lval] : j["layers"].items()) {
    const int l = index_key(lkey);
    if (l < 0) return bad("layer key '" + lkey + "' is not a layer index");
    if (l >= layers) continue;  // a plan for a deeper model: extra layers do not apply here
    if (!lval.is_object()) return bad("layer " + lkey + " is not an object");
    for (int e = 0; e < experts; ++e) {
      auto it = lval.find(std::to_string(e));
      if (it == lval.end()) return bad("layer " + lkey + " misses expert " + std::to_string(e));
      if (!it->is_array() || it->empty())
        return bad("layer " + lkey + " expert " + std::to_string(e) + ": needs a non-empty list of ranks");
      std::vector<int> ranks;
      for (auto& r : *it) {
        if (!r.is_number_integer()) return bad("layer " + lkey + " expert " + std::to_string(e) + ": rank is not an integer");
        int rv = r.get<int>();
        if (rv < 0 || rv >= nranks)
          return bad("layer " + lkey + " expert " + std::to_string(e) + " names rank " + std::to_string(rv) +
                     ", which does not exist (ranks 0.." + std::to_string(nranks - 1) + ")");
        if (std::find(ranks.begin(), ranks.end(), rv) != ranks.end())
          return bad("layer " + lkey + " expert " + std::to_string(e) + " lists rank " + std::to_string(rv) + " twice");
        ranks.push_back(rv);
      }
      p.copies[l][e] = std::move(ranks);
    }
    for (auto& [ekey, _] : lval.items()) {
      const int e = index_key(ekey);
      if (e < 0 || e >= experts) return bad("layer " + lkey + " names expert '" + ekey + "', outside 0.." + std::to_string(experts - 1));
    }
  }
  return p;
}

moetune::Expected<Placement> load_placement(const std::string& path, int layers, int experts, int nranks) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error{path + ": cannot open placement file"};
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_placement(ss.str(), path, layers, experts, nranks);
}

CopyChooser::CopyChooser(const Placement& p, int layer, int src_rank, int ranks_per_node)
    : copies_(&p.copies[layer]), fixed_(p.experts, -1), rr_(p.experts, 0), src_rank_(src_rank) {
  const int node = src_rank / ranks_per_node;
  for (int e = 0; e < p.experts; ++e) {
    const auto& c = (*copies_)[e];
    if (c.size() == 1) {
      fixed_[e] = c[0];
      continue;
    }
    if (std::find(c.begin(), c.end(), src_rank) != c.end()) {
      fixed_[e] = src_rank;
      continue;
    }
    int same_node = -1, n_same = 0;
    for (int r : c)
      if (r / ranks_per_node == node) {
        if (same_node < 0) same_node = r;
        ++n_same;
      }
    if (n_same >= 1) fixed_[e] = same_node;  // nearest copy; first one listed wins
  }
}

int CopyChooser::pick(int expert) {
  if (fixed_[expert] >= 0) return fixed_[expert];
  const auto& c = (*copies_)[expert];
  // Start the rotation at a rank-dependent offset so sources spread over the copies.
  return c[(rr_[expert]++ + src_rank_) % c.size()];
}

}  // namespace moe
