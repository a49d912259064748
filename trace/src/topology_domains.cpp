// SPDX-License-Identifier: Apache-2.0
// Topology domains (format 3): n GPUs whose every pair has the same link (NVSwitch host),
// stored as one topology_domains row and n topology_domain_gpus rows instead of
// n(n-1)/2 topology rows (a 1024-GPU NVLink host: 523,776 pairs, 34 MB). The writer
// recognises the pairs as they come (TraceWriter::add(TopologyRow) order, no buffering of
// rows: only the GPU list); the reader puts each domain's pairs back where they were
// among the pair rows (after_row), so topology() returns exactly the rows added.
#include <sqlite3.h>

#include "compact_store.h"

namespace moetune {

Expected<void> TopoDomains::prepare(Db& db) {
  db_ = &db;
  struct P {
    Statement* s;
    const char* sql;
  };
  for (const P& p : {P{&pair_, "INSERT INTO topology(host,a,b,rank_a,rank_b,link,bandwidth_gbps,source) "
                               "VALUES(?,?,?,?,?,?,?,?)"},
                     P{&domain_, "INSERT INTO topology_domains(id,after_row,host,link,bandwidth_gbps,source) "
                                 "VALUES(?,?,?,?,?,?)"},
                     P{&gpu_, "INSERT INTO topology_domain_gpus(domain,idx,label,rank) VALUES(?,?,?,?)"}}) {
    auto st = db.prepare(p.sql);
    if (!st) return st.error();
    *p.s = std::move(*st);
  }
  return {};
}

namespace {
template <class T>
void bind_opt(Statement& s, int idx, const std::optional<T>& v) {
  if (v) s.bind(idx, *v);
  else s.bind_null(idx);
}
int worst(int a, int b) { return a == SQLITE_DONE ? b : a; }
}  // namespace

int TopoDomains::write_pair(const TopologyRow& r) {
  pair_.bind(1, r.host).bind(2, r.a).bind(3, r.b);
  bind_opt(pair_, 4, r.rank_a);
  bind_opt(pair_, 5, r.rank_b);
  pair_.bind(6, r.link);
  bind_opt(pair_, 7, r.bandwidth_gbps);
  pair_.bind(8, r.source);
  const int rc = pair_.exec();
  last_pair_rowid_ = sqlite3_last_insert_rowid(db_->handle());
  return rc;
}

bool TopoDomains::same_link(const TopologyRow& r) const {
  return r.host == link_.host && r.link == link_.link && r.bandwidth_gbps == link_.bandwidth_gbps &&
         r.source == link_.source;
}

bool TopoDomains::is_pair(const TopologyRow& r, std::size_t i, std::size_t j) const {
  return r.a == gpus_[i].label && r.rank_a == gpus_[i].rank && r.b == gpus_[j].label && r.rank_b == gpus_[j].rank;
}

void TopoDomains::start(const TopologyRow& r) {
  link_ = r;
  gpus_ = {{r.a, r.rank_a}, {r.b, r.rank_b}};
  closed_ = false;
  pairs_ = 1;
}

int TopoDomains::add(const TopologyRow& r) {
  if (!gpus_.empty() && same_link(r)) {
    if (!closed_ && r.a == gpus_[0].label && r.rank_a == gpus_[0].rank &&
        gpus_.size() < kMaxDomain) {
      gpus_.push_back({r.b, r.rank_b});  // (0, j): one more GPU in the list
      ++pairs_;
      return SQLITE_DONE;
    }
    const bool closing = !closed_ && gpus_.size() >= 3 && is_pair(r, 1, 2);
    if (closing) closed_ = true, i_ = 1, j_ = 2;
    if (closed_ && is_pair(r, i_, j_)) {
      ++pairs_;
      if (++j_ == gpus_.size()) ++i_, j_ = i_ + 1;
      return i_ + 1 >= gpus_.size() ? write_pending() : SQLITE_DONE;  // all pairs seen
    }
  }
  const int rc = write_pending();
  start(r);
  return rc;
}

int TopoDomains::flush() { return write_pending(); }

int TopoDomains::write_pending() {
  if (gpus_.empty()) return SQLITE_DONE;
  const std::size_t n = gpus_.size();
  int rc = SQLITE_DONE;
  if (n >= kMinDomain && pairs_ == n * (n - 1) / 2) {
    domain_.bind(1, ++domains_).bind(2, last_pair_rowid_).bind(3, link_.host).bind(4, link_.link);
    bind_opt(domain_, 5, link_.bandwidth_gbps);
    domain_.bind(6, link_.source);
    rc = domain_.exec();
    for (std::size_t i = 0; i < n; ++i) {
      gpu_.bind(1, domains_).bind(2, static_cast<std::int64_t>(i)).bind(3, gpus_[i].label);
      bind_opt(gpu_, 4, gpus_[i].rank);
      rc = worst(rc, gpu_.exec());
    }
  } else {
    TopologyRow t = link_;
    std::size_t left = pairs_;
    for (std::size_t i = 0; i + 1 < n && left; ++i)
      for (std::size_t j = i + 1; j < n && left; ++j, --left) {
        t.a = gpus_[i].label, t.rank_a = gpus_[i].rank;
        t.b = gpus_[j].label, t.rank_b = gpus_[j].rank;
        rc = worst(rc, write_pair(t));
      }
  }
  gpus_.clear();
  closed_ = false;
  pairs_ = 0;
  return rc;
}

namespace {
TopologyRow pair_from(const Statement& st, int c) {
  TopologyRow t;
  t.host = st.text(c);
  t.a = st.text(c + 1);
  t.b = st.text(c + 2);
  t.rank_a = st.opt_i64(c + 3);
  t.rank_b = st.opt_i64(c + 4);
  t.link = st.text(c + 5);
  if (!st.is_null(c + 6)) t.bandwidth_gbps = st.f64(c + 6);
  t.source = st.text(c + 7);
  return t;
}
}  // namespace

std::vector<TopologyRow> read_topology_v3(Db& db) {
  std::vector<TopologyRow> out;
  auto pairs = db.prepare(
      "SELECT rowid,host,a,b,rank_a,rank_b,link,bandwidth_gbps,source FROM topology ORDER BY rowid");
  auto domains = db.prepare(
      "SELECT id,after_row,host,link,bandwidth_gbps,source FROM topology_domains ORDER BY after_row, id");
  auto gpus = db.prepare("SELECT label,rank FROM topology_domain_gpus WHERE domain = ? ORDER BY idx");
  if (!pairs || !domains || !gpus) return out;
  bool more = domains->step();
  // Emits the domains placed before pair row `rowid` (all of them at the end).
  auto domains_before = [&](std::int64_t rowid) {
    for (; more && domains->i64(1) < rowid; more = domains->step()) {
      TopologyRow t;
      t.host = domains->text(2);
      t.link = domains->text(3);
      if (!domains->is_null(4)) t.bandwidth_gbps = domains->f64(4);
      t.source = domains->text(5);
      std::vector<std::pair<std::string, std::optional<std::int64_t>>> g;
      gpus->bind(1, domains->i64(0));
      while (gpus->step() && g.size() <= TopoDomains::kMaxDomain) g.emplace_back(gpus->text(0), gpus->opt_i64(1));
      gpus->reset();
      if (g.size() > TopoDomains::kMaxDomain) continue;  // not written by moetune: n^2 rows
      for (std::size_t i = 0; i < g.size(); ++i)
        for (std::size_t j = i + 1; j < g.size(); ++j) {
          t.a = g[i].first, t.rank_a = g[i].second;
          t.b = g[j].first, t.rank_b = g[j].second;
          out.push_back(t);
        }
    }
  };
  while (pairs->step()) {
    domains_before(pairs->i64(0));
    out.push_back(pair_from(*pairs, 1));
  }
  domains_before(INT64_MAX);
  return out;
}

std::string logical_count_sql(const std::string& table, int version) {
  if (version < 3) return {};
  if (table == "expert_routing") return "SELECT coalesce(sum(n), 0) FROM expert_counts";
  if (table == "topology")
    return "SELECT (SELECT count(*) FROM topology) + (SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM "
           "(SELECT count(*) AS c FROM topology_domain_gpus GROUP BY domain))";
  return {};
}

std::map<std::string, std::set<std::string>> legacy_tables(int version) {
  if (version >= 3) return {};
  return {{"expert_routing", {"step", "layer", "rank", "expert", "tokens", "time_ns"}}};
}

}  // namespace moetune
