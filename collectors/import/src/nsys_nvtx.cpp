// SPDX-License-Identifier: Apache-2.0
// nsys importer, stage 2: NVTX_EVENTS. Ranges (push/pop, start/end) and marks become
// `nvtx` rows with their domain name and decoded payload; domain names come from the
// NvtxDomainCreate rows (an unnamed domain whose payload schemas or messages are
// NCCL's is named "NCCL"). On top of the rows, the `moe` conventions
// (docs/CONVENTIONS-NVTX.md) fill steps, expert_routing and expert_placement, and
// "ProfilerStep#N" ranges in any domain fill steps. NCCL API ranges are kept for the
// NCCL stage. Events are read once, ordered by start, so the step enclosing a
// routing mark is always known when the mark is read.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "nsys_internal.h"
#include "moetune/trace/moe_text.h"

namespace moetune::import::nsys_detail {
namespace {

constexpr const char* kNvtx = "NVTX_EVENTS";
// ENUM_NSYS_EVENT_TYPE ids.
constexpr std::int64_t kMark = 34, kPushPop = 59, kStartEnd = 60, kDomainCreate = 75;

struct Schemas {
  std::vector<PayloadSchema> all;
};

Schemas load_schemas(NsysImport& im) {
  Schemas s;
  if (!im.db.has_table("NVTX_PAYLOAD_SCHEMAS") || !im.db.has_table("NVTX_PAYLOAD_SCHEMA_ENTRIES")) return s;
  const std::string t = "NVTX_PAYLOAD_SCHEMAS";
  // nsys may list a schema once per process that registered it: keep one.
  Statement st = im.prepare("SELECT DISTINCT domainId, schemaId, " + im.col(t, "name") + ", " +
                            im.col(t, "payloadSize", "0") + " FROM " + t + " ORDER BY domainId, schemaId");
  while (st && st.step()) {
    PayloadSchema p;
    p.domain = st.opt_i64(0).value_or(0);
    p.id = st.opt_i64(1).value_or(0);
    p.name = st.opt_text(2).value_or("");
    p.size = st.opt_i64(3).value_or(0);
    if (!s.all.empty() && s.all.back().domain == p.domain && s.all.back().id == p.id) continue;
    s.all.push_back(std::move(p));
  }
  Statement e = im.prepare(
      "SELECT DISTINCT domainId, schemaId, idx, type, name, \"offset\" FROM NVTX_PAYLOAD_SCHEMA_ENTRIES "
      "ORDER BY domainId, schemaId, idx");
  std::int64_t last_idx = -1, last_dom = -1, last_id = -1;
  while (e && e.step()) {
    std::int64_t dom = e.i64(0), id = e.i64(1), idx = e.i64(2);
    if (dom == last_dom && id == last_id && idx == last_idx) continue;  // duplicate listing
    last_dom = dom, last_id = id, last_idx = idx;
    for (auto& p : s.all)
      if (p.domain == dom && p.id == id) p.entries.push_back({e.opt_i64(3).value_or(0), e.opt_text(4).value_or(""),
                                                              e.opt_i64(5)});
  }
  return s;
}

bool schema_has(const PayloadSchema& p, std::string_view name) {
  return std::any_of(p.entries.begin(), p.entries.end(), [&](const PayloadEntry& e) { return e.name == name; });
}

// Picks the schema of a binary payload: same domain, static size equal to the data;
// ties are broken by what the message names (NCCL's schemas share sizes).
const PayloadSchema* pick_schema(const Schemas& s, std::int64_t domain, std::size_t size, std::string_view text) {
  const PayloadSchema* best = nullptr;
  int best_score = -1;
  for (const auto& p : s.all) {
    if (p.domain != domain || p.entries.empty()) continue;
    if (p.size > 0 && static_cast<std::size_t>(p.size) != size) continue;
    int score = 0;
    bool p2p = text.find("Send") != std::string_view::npos || text.find("Recv") != std::string_view::npos;
    if (p2p && schema_has(p, "Peer rank")) score += 4;
    if (text.find("CommInit") != std::string_view::npos && schema_has(p, "Rank")) score += 4;
    if ((text.find("Broadcast") != std::string_view::npos || text == "ncclReduce") && schema_has(p, "Root")) score += 4;
    if (text.find("Reduce") != std::string_view::npos && schema_has(p, "Reduction operation")) score += 2;
    if (score > best_score) best = &p, best_score = score;
  }
  return best;
}

struct DomainNames {
  std::map<std::int64_t, std::string> names;
  const std::string& of(std::int64_t id) {
    auto it = names.find(id);
    if (it != names.end()) return it->second;
    return names[id] = (id == 0 ? "default" : "domain" + std::to_string(id));
  }
};

// Domain names: NvtxDomainCreate rows; else "NCCL" for a domain whose schemas carry
// "NCCL communicator ID" or whose messages start with "nccl".
DomainNames domain_names(NsysImport& im, const Schemas& schemas) {
  DomainNames d;
  std::string t = kNvtx;
  Statement st = im.prepare("SELECT " + im.col(t, "domainId", "0") + ", " + im.col(t, "text") + ", " +
                            im.col(t, "textId") + " FROM " + t + " WHERE eventType = " + std::to_string(kDomainCreate));
  while (st && st.step()) {
    std::string name = st.opt_text(1).value_or(im.str(st.opt_i64(2).value_or(-1)));
    if (!name.empty()) d.names[st.opt_i64(0).value_or(0)] = name;
  }
  for (const auto& p : schemas.all)
    if (!d.names.count(p.domain) && schema_has(p, "NCCL communicator ID")) d.names[p.domain] = "NCCL";
  std::string by_text = im.col(t, "text", "''") + " LIKE 'nccl%'";
  if (im.db.has_table("StringIds"))
    by_text += " OR " + im.col(t, "textId", "-1") + " IN (SELECT id FROM StringIds WHERE value LIKE 'nccl%')";
  Statement n = im.prepare("SELECT DISTINCT " + im.col(t, "domainId", "0") + " FROM " + t + " WHERE " +
                           im.col(t, "domainId", "0") + " <> 0 AND (" + by_text + ")");
  while (n && n.step())
    if (!d.names.count(n.i64(0))) d.names[n.i64(0)] = "NCCL";
  return d;
}

std::string select_events(NsysImport& im, const std::string& where) {
  std::string t = kNvtx;
  return "SELECT start, " + im.col(t, "end") + ", eventType, globalTid, " + im.col(t, "text") + ", " +
         im.col(t, "textId") + ", " + im.col(t, "domainId", "0") + ", " + im.col(t, "binaryData") +
         ", typeof(" + im.col(t, "binaryData") + "), " + im.col(t, "jsonText") + ", " + im.col(t, "int64Value") +
         ", " + im.col(t, "uint64Value") + ", " + im.col(t, "doubleValue") + " FROM " + t + " WHERE " + where;
}

// True when every field name can go into JSON unescaped ("seq", "op_id").
bool plain_keys(const TorchNvtxText& t) {
  for (const auto& f : t.fields)
    for (char c : f.first)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ')) return false;
  return true;
}

// A step range seen so far on a rank (for routing marks).
struct OpenStep {
  std::int64_t tid, start, end, step;
};

}  // namespace

std::map<std::int64_t, int> nccl_ranks_from_payloads(NsysImport& im) {
  std::map<std::int64_t, int> out;
  if (!im.db.has_table(kNvtx) || im.col(kNvtx, "binaryData") == "NULL") return out;
  Schemas schemas = load_schemas(im);
  DomainNames domains = domain_names(im, schemas);
  std::map<std::int64_t, std::int64_t> best_size;  // pid -> nranks of the comm the rank came from
  Statement st = im.prepare(select_events(im, "binaryData IS NOT NULL"));
  while (st && st.step()) {
    std::int64_t dom = st.i64(6);
    if (domains.of(dom) != "NCCL") continue;
    std::string text = st.opt_text(4).value_or(im.str(st.opt_i64(5).value_or(-1)));
    std::string data = payload_bytes(st.text_view(7), st.text_view(8) == "text");
    const PayloadSchema* p = pick_schema(schemas, dom, data.size(), text);
    if (!p) continue;
    auto js = decode_payload(*p, data);
    if (!js) continue;
    auto j = nlohmann::json::parse(*js, nullptr, false);
    if (!j.is_object() || !j.contains("Rank") || !j.contains("No. of ranks") || !j["Rank"].is_number() ||
        !j["No. of ranks"].is_number())
      continue;
    std::int64_t pid = pid_of(st.i64(3)), nranks = j["No. of ranks"].get<std::int64_t>();
    std::int64_t rank = j["Rank"].get<std::int64_t>();
    if (rank < 0 || rank >= nranks || nranks > (1 << 20)) continue;
    if (nranks > best_size[pid]) best_size[pid] = nranks, out[pid] = static_cast<int>(rank);
  }
  return out;
}

bool import_nvtx(NsysImport& im) {
  if (!im.db.has_table(kNvtx)) return true;
  Schemas schemas = load_schemas(im);
  DomainNames domains = domain_names(im, schemas);
  Statement st = im.prepare(select_events(im, "eventType IN (34, 59, 60) ORDER BY start"));
  if (!st) return false;
  std::map<std::int64_t, StringId> domain_ids;
  std::map<RankId, std::vector<OpenStep>> steps;  // per rank, in start order
  std::int64_t unterminated = 0, route_without_step = 0, bad_moe = 0;
  while (st.step()) {
    std::int64_t gtid = st.i64(3), pid = pid_of(gtid);
    auto rank = im.rank(pid);
    if (!rank) {
      ++im.dropped[kNvtx];
      continue;
    }
    std::int64_t type = st.i64(2), dom = st.i64(6);
    std::string text = st.is_null(4) ? im.str(st.opt_i64(5).value_or(-1)) : st.text(4);
    const std::string& dname = domains.of(dom);
    NvtxRow r;
    r.rank = *rank;
    r.tid = tid_of(gtid);
    std::int64_t start = st.i64(0);
    std::optional<std::int64_t> end = st.opt_i64(1);
    if (type != kMark && !end) ++unterminated;
    r.start_ns = im.t(start);
    r.dur_ns = (type == kMark || !end) ? 0 : im.dur(start, *end);
    const std::string full_text = text;  // torch->name and ->fields point into it
    auto torch = split_torch_nvtx(full_text);
    if (torch) text = std::string(torch->name);
    r.name = im.w.intern(text);
    auto d = domain_ids.find(dom);
    if (d == domain_ids.end()) d = domain_ids.emplace(dom, im.w.intern(dname)).first;
    r.domain = d->second;
    if (!st.is_null(7)) {
      std::string data = payload_bytes(st.text_view(7), st.text_view(8) == "text");
      if (const PayloadSchema* p = pick_schema(schemas, dom, data.size(), text)) r.payload = decode_payload(*p, data);
    } else if (!st.is_null(9)) {
      r.payload = st.text(9);
    } else if (!st.is_null(10)) {
      r.payload = nlohmann::json{{"value", st.i64(10)}}.dump();
    } else if (!st.is_null(11)) {
      r.payload = nlohmann::json{{"value", static_cast<std::uint64_t>(st.i64(11))}}.dump();
    } else if (!st.is_null(12)) {
      r.payload = nlohmann::json{{"value", st.f64(12)}}.dump();
    }
    if (torch && !r.payload && plain_keys(*torch)) {  // the common case, without a JSON DOM
      std::string js = "{";
      for (const auto& [k, v] : torch->fields) {
        if (js.size() > 1) js += ',';
        js += '"';
        js.append(k);
        js += "\":";
        js += std::to_string(v);
      }
      js += '}';
      r.payload = std::move(js);
    } else if (torch) {  // the torch fields join the payload (if any) as JSON numbers
      auto j = r.payload ? nlohmann::json::parse(*r.payload, nullptr, false) : nlohmann::json::object();
      if (!j.is_object()) j = nlohmann::json{{"payload", *r.payload}};
      for (const auto& [k, v] : torch->fields) j[std::string(k)] = v;
      r.payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    im.w.add(r);

    if (dname == "NCCL" && text.rfind("nccl", 0) == 0)
      im.nccl_ranges.push_back({pid, r.tid, r.start_ns, r.start_ns + r.dur_ns, text, r.payload.value_or("")});
    if (type != kMark) {
      std::optional<MoeStep> s;
      if (dname == "moe") s = parse_moe_step(text);
      if (!s) s = parse_profiler_step(text);
      if (s) {
        im.w.add(StepRow{*rank, s->step, r.start_ns, r.start_ns + r.dur_ns, s->tokens});
        steps[*rank].push_back({r.tid, r.start_ns, r.start_ns + r.dur_ns, s->step});
      }
      continue;
    }
    if (text.rfind("moe.route", 0) == 0) {
      auto route = parse_moe_route(text);
      if (!route) {
        ++bad_moe;
        continue;
      }
      // Innermost enclosing step on this thread, else the last step that started.
      std::int64_t step = route->step.value_or(-1);  // a step=S in the text wins
      const auto& v = steps[*rank];
      for (auto it = v.rbegin(); step < 0 && it != v.rend(); ++it)
        if (it->tid == r.tid && it->start <= r.start_ns && it->end >= r.start_ns) {
          step = it->step;
          break;
        }
      if (step < 0 && !v.empty()) step = v.back().step;
      if (step < 0) ++route_without_step;
      for (std::size_t e = 0; e < route->tokens.size(); ++e)
        im.w.add(ExpertRoutingRow{step, route->layer, *rank, static_cast<int>(e), route->tokens[e], r.start_ns});
    } else if (text.rfind("moe.placement", 0) == 0) {
      auto pl = parse_moe_placement(text);
      if (!pl) {
        ++bad_moe;
        continue;
      }
      for (const auto& [expert, ranks] : pl->map)
        for (std::size_t i = 0; i < ranks.size(); ++i)
          im.w.add(ExpertPlacementRow{pl->layer, expert, RankId(ranks[i]), static_cast<int>(i)});
    }
  }
  if (!im.finished_ok(st, kNvtx)) return false;
  const std::string f = im.file.filename().string();
  if (unterminated)
    im.w.add(StatRow{"nsys_unterminated_nvtx_ranges", Severity::Info, unterminated, std::nullopt,
                     f + ": NVTX ranges without an end (stored with duration 0)"});
  if (route_without_step)
    im.w.add(StatRow{"moe_route_without_step", Severity::Error, route_without_step, std::nullopt,
                     f + ": moe.route marks before any step range (stored with step -1)"});
  if (bad_moe)
    im.w.add(StatRow{"moe_malformed_marks", Severity::Error, bad_moe, std::nullopt,
                     f + ": moe.route / moe.placement marks whose text does not parse (skipped)"});
  return true;
}

}  // namespace moetune::import::nsys_detail
