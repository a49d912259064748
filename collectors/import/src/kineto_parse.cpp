// SPDX-License-Identifier: Apache-2.0
// JSON stage of the Kineto importer: simdjson ondemand over one padded buffer.
// Pass 1 reads the top-level keys and skips traceEvents (Kineto writes
// baseTimeNanoseconds after the events, so it must be known first); pass 2 rewinds
// and walks traceEvents once, field by field, in whatever key order the writer used.
// Any simdjson error stops the parse: ondemand cannot resume after one.
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "kineto_event.h"

namespace moetune::import::kineto {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The key text between the quotes (escapes kept; our keys have none).
std::string_view key_text(od::raw_json_string k) {
  const char* p = k.raw();
  const char* q = p;
  while (*q != '"') q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
  return {p, static_cast<std::size_t>(q - p)};
}

// Reads an integer-valued field; doubles are rounded, strings of digits accepted.
// Returns an error only for JSON errors; `ok` says whether a usable integer was there.
error_code read_int(od::value& v, std::int64_t& out, bool& ok) {
  ok = false;
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::number) {
    // Parsed from the token text: simdjson's number parser rejects valid JSON numbers
    // beyond 64 bits (NUMBER_ERROR), and ondemand cannot go on after an error.
    std::string_view tok = trim(v.raw_json_token());
    const char* end = tok.data() + tok.size();
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(tok.data(), end, n);
    if (ec == std::errc() && p == end) {
      out = n;
      ok = true;
    } else {
      double d = 0;
      auto [q, ec2] = std::from_chars(tok.data(), end, d);
      if (ec2 == std::errc() && q == end && std::isfinite(d) && std::fabs(d) < 9.2e18) {
        out = std::llround(d);
        ok = true;
      }
    }
  } else if (t == od::json_type::string) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    std::size_t i = s.find_last_not_of("0123456789");
    std::string_view digits = i == std::string_view::npos ? s : s.substr(i + 1);
    if (!digits.empty() && digits.size() <= 18) {
      out = std::stoll(std::string(digits));
      ok = true;
    }
  }
  return SUCCESS;
}

// A string without escapes is viewed in place in the input (which outlives the parse);
// only strings with a backslash are unescaped by simdjson into its string buffer.
// Saves a copy per string and the fresh pages of a string buffer the size of the input.
error_code get_str(od::value& v, std::string_view& out) {
  std::string_view tok = v.raw_json_token();  // "...", maybe followed by whitespace
  if (tok.size() >= 2 && tok[0] == '"') {
    // One pass to the closing quote (short strings: cheaper than two memchr calls).
    const char* p = tok.data() + 1;
    const char* end = tok.data() + tok.size();
    for (const char* q = p; q < end; ++q) {
      if (*q == '"') {
        out = std::string_view(p, static_cast<std::size_t>(q - p));
        return SUCCESS;
      }
      if (*q == '\\') break;
    }
  }
  return v.get_string().get(out);
}

error_code read_str(od::value& v, std::string_view& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::string) return get_str(v, out);
  return SUCCESS;
}

// Text of a value as JSON-ish text: a string's contents, or an array's raw JSON.
error_code read_text(od::value& v, std::string_view& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::string) return get_str(v, out);
  if (t == od::json_type::array) {
    std::string_view raw;
    if (auto e = simdjson::to_json_string(v).get(raw)) return e;
    out = trim(raw);
  }
  return SUCCESS;
}

error_code read_time(od::value& v, std::int64_t& ns, bool& has, bool& bad) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  std::string_view tok;
  if (t == od::json_type::number) {
    tok = v.raw_json_token();
  } else if (t == od::json_type::string) {
    if (auto e = get_str(v, tok)) return e;
  } else {
    return SUCCESS;
  }
  if (us_token_to_ns(tok, ns)) has = true;
  else bad = true;
  return SUCCESS;
}


// Calls fn on each member of v (a value or the document) when v is a JSON `Want`:
// fn(key, value) for the fields of an object, fn(value) for the items of an array.
// Anything else: no call, SUCCESS. Stops at the first error fn or the parser returns.
template <od::json_type Want, class V, class Fn>
error_code for_each_in(V& v, Fn&& fn) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != Want) return SUCCESS;
  if constexpr (Want == od::json_type::object) {
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto f : o) {
      if (auto e = f.error()) return e;
      od::raw_json_string rk;
      if (auto e = f.key().get(rk)) return e;
      od::value x;
      if (auto e = f.value().get(x)) return e;
      if (auto e = fn(key_text(rk), x)) return e;
    }
  } else {
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto item : a) {
      od::value x;
      if (auto e = item.get(x)) return e;
      if (auto e = fn(x)) return e;
    }
  }
  return SUCCESS;
}
template <class V, class Fn>
error_code for_each_field(V& v, Fn&& fn) {
  return for_each_in<od::json_type::object>(v, std::forward<Fn>(fn));
}
template <class Fn>
error_code for_each_item(od::value& v, Fn&& fn) {
  return for_each_in<od::json_type::array>(v, std::forward<Fn>(fn));
}

// grid/block: [x, y, z] -> packed; components out of the 21-bit range give 0.
error_code read_dim3(od::value& v, std::int64_t& packed) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::array) return SUCCESS;
  std::int64_t d[3] = {1, 1, 1};
  int i = 0;
  bool fine = true;
  auto e = for_each_item(v, [&](od::value& x) -> error_code {
    std::int64_t n = 0;
    bool ok = false;
    if (auto e = read_int(x, n, ok)) return e;
    if (i < 3) d[i] = n;
    fine = fine && ok && n >= 0 && n < (1 << 21);
    ++i;
    return SUCCESS;
  });
  if (e) return e;
  packed = fine && i == 3 ? pack_dim3(d[0], d[1], d[2]) : 0;
  return SUCCESS;
}

// The args the importer reads, by key, and how: an integer (kept only when the value is
// one), a string, the raw text of any value (split sizes, rank lists) or an [x, y, z].
struct ArgField {
  std::string_view key;
  std::optional<std::int64_t> Event::*num = nullptr;
  std::string_view Event::*str = nullptr;
  std::string_view Event::*text = nullptr;
  std::int64_t Event::*dim3 = nullptr;
};
constexpr ArgField kArgs[] = {
    // CUDA runtime and kernel args
    {"correlation", &Event::correlation}, {"stream", &Event::stream}, {"device", &Event::device},
    {"bytes", &Event::bytes}, {.key = "grid", .dim3 = &Event::grid}, {.key = "block", .dim3 = &Event::block},
    // NCCL metadata (record_param_comms)
    {.key = "Collective name", .str = &Event::coll_name}, {.key = "dtype", .str = &Event::dtype},
    {"In msg nelems", &Event::in_nelems}, {"Out msg nelems", &Event::out_nelems}, {"Group size", &Event::group_size},
    {"Seq", &Event::seq}, {"Rank", &Event::nccl_rank}, {.key = "Process Group Name", .str = &Event::pg_name},
    {.key = "Process Group Ranks", .text = &Event::pg_ranks}, {.key = "name", .str = &Event::arg_name},
    {.key = "In split size", .text = &Event::in_split}, {.key = "Out split size", .text = &Event::out_split},
};

error_code read_args(od::value& v, Event& ev) {
  return for_each_field(v, [&](std::string_view k, od::value& x) -> error_code {
    for (const auto& a : kArgs) {
      if (a.key != k) continue;
      if (a.num) {
        std::int64_t n = 0;
        bool ok = false;
        const error_code e = read_int(x, n, ok);
        if (ok) ev.*a.num = n;
        return e;
      }
      if (a.dim3) return read_dim3(x, ev.*a.dim3);
      return a.str ? read_str(x, ev.*a.str) : read_text(x, ev.*a.text);
    }
    return SUCCESS;
  });
}

// A value that is not an object is not an event: left empty, counted by the caller.
error_code read_event(od::value& v, Event& ev) {
  return for_each_field(v, [&](std::string_view k, od::value& x) -> error_code {
    error_code e = SUCCESS;
    bool ok = false, has = false;
    if (k == "ph") e = read_str(x, ev.ph);
    else if (k == "cat") e = read_str(x, ev.cat);
    else if (k == "name") e = read_str(x, ev.name);
    else if (k == "ts") e = read_time(x, ev.ts_ns, ev.has_ts, ev.bad_ts);
    else if (k == "dur") {
      bool bad = false;
      e = read_time(x, ev.dur_ns, has, bad);
      ev.has_dur = has;
    } else if (k == "pid") {
      od::json_type pt;
      e = x.type().get(pt);
      if (!e) e = read_int(x, ev.pid, ok);
      ev.pid_is_int = !e && ok && pt == od::json_type::number;
    } else if (k == "tid") e = read_int(x, ev.tid, ok);
    else if (k == "id") {
      e = read_int(x, ev.id, ok);
      ev.has_id = ok;
    } else if (k == "bp") e = read_str(x, ev.bp);
    else if (k == "args") e = read_args(x, ev);
    return e;
  });
}

error_code read_devices(od::value& v, std::vector<DeviceProps>& out) {
  return for_each_item(v, [&](od::value& d) -> error_code {
    od::json_type t;
    if (auto e = d.type().get(t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    DeviceProps p;
    auto e = for_each_field(d, [&](std::string_view k, od::value& x) -> error_code {
      std::int64_t n = 0;
      bool ok = false;
      error_code e = SUCCESS;
      if (k == "id") e = read_int(x, p.id, ok);
      else if (k == "name") {
        std::string_view s;
        e = read_str(x, s);
        p.name = std::string(s);
      } else if (k == "totalGlobalMem") e = read_int(x, p.memory_bytes, ok);
      else if (k == "numSms") {
        e = read_int(x, n, ok);
        if (ok && n >= 0 && n < 1000000) p.sm_count = static_cast<int>(n);
      } else if (k == "computeMajor") {
        e = read_int(x, n, ok);
        if (ok && n >= 0 && n < 1000) p.cc_major = static_cast<int>(n);
      } else if (k == "computeMinor") {
        e = read_int(x, n, ok);
        if (ok && n >= 0 && n < 1000) p.cc_minor = static_cast<int>(n);
      }
      return e;
    });
    if (e) return e;
    out.push_back(std::move(p));
    return SUCCESS;
  });
}

error_code read_distributed(od::value& v, std::optional<std::int64_t>& rank) {
  return for_each_field(v, [&](std::string_view k, od::value& x) -> error_code {
    if (k != "rank") return SUCCESS;
    std::int64_t n = 0;
    bool ok = false;
    if (auto e = read_int(x, n, ok)) return e;
    if (ok) rank = n;
    return SUCCESS;
  });
}

}  // namespace

Expected<void> parse_trace(const std::filesystem::path& file, simdjson::padded_string_view json,
                           simdjson::ondemand::parser& parser,
                           const std::function<Expected<void>(const TraceMeta&)>& on_meta,
                           const std::function<bool(const Event&)>& on_event,
                           const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  od::document doc;
  const char* begin = json.data();
  bool have_doc = false;  // current_location() is only defined on an iterated document
  auto json_error = [&](error_code e) {
    std::string where;
    const char* loc = nullptr;
    if (e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || e == simdjson::UNCLOSED_STRING)  // found at the start, is at the end
      where = " at byte " + std::to_string(json.size()) + ", where the text ends (truncated file?)";
    else if (have_doc && !doc.current_location().get(loc) && loc >= begin && loc <= begin + json.size())
      where = " near byte " + std::to_string(loc - begin);
    return Error{file.string() + ": invalid JSON (" + simdjson::error_message(e) + ")" + where};
  };
  if (auto e = parser.iterate(json).get(doc)) return json_error(e);
  have_doc = true;

  // Pass 1: top-level facts.
  TraceMeta meta;
  {
    od::json_type t;
    if (auto e = doc.type().get(t)) return json_error(e);
    if (t == od::json_type::array) meta.has_events = meta.legacy_array = true;
    else if (t != od::json_type::object)
      return Error{file.string() + ": not a Kineto trace (top level is not a JSON object with traceEvents)"};
  }
  if (!meta.legacy_array) {
    auto e = for_each_field(doc, [&](std::string_view k, od::value& x) -> error_code {
      if (k == "traceEvents") {
        od::json_type et;
        auto e = x.type().get(et);
        if (!e && et == od::json_type::array) meta.has_events = true;
        return e;
      }
      if (k == "baseTimeNanoseconds") {
        std::int64_t n = 0;
        bool ok = false;
        auto e = read_int(x, n, ok);
        if (ok) meta.base_time_ns = n;
        return e;
      }
      if (k == "distributedInfo") return read_distributed(x, meta.rank);
      if (k == "deviceProperties") return read_devices(x, meta.devices);
      return SUCCESS;
    });
    if (e) return json_error(e);
    const char* rest = nullptr;  // current_location() is out of bounds exactly at the end
    if (!doc.current_location().get(rest))
      return Error{file.string() + ": invalid JSON (content after the top-level object near byte " +
                   std::to_string(rest - begin) + ")"};
  }
  if (!meta.has_events) return Error{file.string() + ": not a Kineto trace (no traceEvents array)"};
  // A meta error (e.g. no rank) is reported only if the events are valid JSON:
  // a broken file should be called broken first.
  Expected<void> meta_ok = on_meta(meta);

  // Pass 2: the events.
  doc.rewind();
  std::uint64_t n = 0;
  // The events array; stops early (SUCCESS) when on_event gives the import up.
  auto walk = [&](od::array& events) -> error_code {
    for (auto item : events) {
      od::value v;
      if (auto e = item.get(v)) return e;
      Event ev;
      if (auto e = read_event(v, ev)) return e;
      if (meta.legacy_array && ev.cat.empty()) {
        const bool moe = ev.name.substr(0, 4) == "moe:" || ev.name.substr(0, 4) == "moe.";
        ev.cat = moe || ev.name.substr(0, 13) == "ProfilerStep#" ? "user_annotation" : "cpu_op";
      }
      if (meta_ok && !on_event(ev)) return SUCCESS;  // given up: nothing more is wanted
      if ((++n & 0xFFFF) == 0 && progress) {
        const char* loc = nullptr;
        if (!doc.current_location().get(loc)) progress(static_cast<std::uint64_t>(loc - begin), json.size());
      }
    }
    return SUCCESS;
  };
  auto events_of = [&](auto& v) -> error_code {
    od::array events;
    if (auto e = v.get_array().get(events)) return e;
    return walk(events);
  };
  error_code e = meta.legacy_array ? events_of(doc)
                                   : for_each_field(doc, [&](std::string_view k, od::value& x) -> error_code {
                                       return k == "traceEvents" ? events_of(x) : SUCCESS;
                                     });
  if (e) return json_error(e);
  if (!meta_ok) return meta_ok;
  if (progress) progress(json.size(), json.size());
  return {};
}

}  // namespace moetune::import::kineto
