// SPDX-License-Identifier: Apache-2.0
// Nsight Systems SQLite export importer (`nsys export --type sqlite`): entry point,
// format check, time base, processes -> ranks and devices. The event tables are read
// by nsys_activity.cpp, nsys_nvtx.cpp and nsys_nccl.cpp (see nsys_internal.h).
//
// Time base: nsys writes raw target-clock timestamps (TIME_NORMALIZE=false) or
// session-relative ones; TARGET_INFO_SESSION_START_TIME gives utcEpochNs and the
// target clock (systemClockNs) at the same instant. Timestamps at or after
// systemClockNs are raw: abs = utcEpochNs + (t - systemClockNs); smaller ones are
// relative to the session start: abs = utcEpochNs + t.
#include <algorithm>
#include <sqlite3.h>

#include "nsys_internal.h"

namespace moetune::import {
namespace nsys_detail {

std::map<std::int64_t, int> nccl_ranks_from_payloads(NsysImport& im);  // nsys_nvtx.cpp

const std::string& NsysImport::str(std::int64_t id) const {
  static const std::string empty;
  auto it = strings.find(id);
  return it == strings.end() ? empty : it->second;
}

std::string NsysImport::col(const std::string& table, const std::string& column, const char* fallback) {
  auto it = columns_cache.find(table);
  if (it == columns_cache.end()) {
    std::vector<std::string> cols;
    auto st = db.prepare("SELECT name FROM pragma_table_info(?1)");
    if (st) {
      st->bind(1, table);
      while (st->step()) cols.push_back(st->text(0));
    }
    it = columns_cache.emplace(table, std::move(cols)).first;
  }
  bool has = std::find(it->second.begin(), it->second.end(), column) != it->second.end();
  return has ? "\"" + column + "\"" : std::string(fallback);
}

Statement NsysImport::prepare(const std::string& sql) {
  auto st = db.prepare(sql);
  if (!st) {
    if (error.empty()) error = st.error().message;
    return Statement();
  }
  return std::move(*st);
}

bool NsysImport::finished_ok(const Statement& st, const char* what) {
  if (st.rc() == SQLITE_DONE || st.rc() == SQLITE_OK) return true;
  if (error.empty())
    error = std::string("reading ") + what + ": " + sqlite3_errstr(st.rc()) + " (" + db.last_error() + ")";
  return false;
}

namespace {

bool load_strings(NsysImport& im) {
  if (!im.db.has_table("StringIds")) return true;
  Statement st = im.prepare("SELECT id, value FROM StringIds");
  if (!st) return false;
  while (st.step()) im.strings.emplace(st.i64(0), st.text(1));
  return im.finished_ok(st, "StringIds");
}

// Earliest event timestamp over the main tables (nullopt if none).
std::optional<std::int64_t> earliest_event(NsysImport& im) {
  std::optional<std::int64_t> t0;
  for (const char* table : {"CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS",
                            "CUPTI_ACTIVITY_KIND_MEMCPY"}) {
    if (!im.db.has_table(table)) continue;
    auto v = im.db.scalar(std::string("SELECT min(start) FROM ") + table);
    if (v && (!t0 || *v < *t0)) t0 = v;
  }
  return t0;
}

void set_time_base(NsysImport& im) {
  if (!im.db.has_table("TARGET_INFO_SESSION_START_TIME")) {
    im.w.add(StatRow{"nsys_no_session_start", Severity::Error, 1, std::nullopt,
                     im.file.filename().string() +
                         ": no TARGET_INFO_SESSION_START_TIME; times are session-relative, not absolute"});
    return;
  }
  auto utc = im.db.scalar("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME LIMIT 1");
  std::string sys_col = im.col("TARGET_INFO_SESSION_START_TIME", "systemClockNs", "0");
  auto sys = im.db.scalar("SELECT " + sys_col + " FROM TARGET_INFO_SESSION_START_TIME LIMIT 1");
  if (!utc) return;
  std::int64_t sys_ns = sys.value_or(0);
  auto first = earliest_event(im);
  bool raw = sys_ns > 0 && first && *first >= sys_ns;
  if (raw && __builtin_sub_overflow(*utc, sys_ns, &im.time_offset)) {
    im.time_offset = 0;
    ++im.time_overflows;
  } else if (!raw) {
    im.time_offset = *utc;
  }
  const std::string key = "nsys." + im.file.filename().string();
  im.w.set_meta(key + ".session_start_utc_ns", std::to_string(*utc));
  im.w.set_meta(key + ".timestamps", raw ? "target clock" : "session-relative");
}

std::string host_name(NsysImport& im) {
  if (!im.db.has_table("TARGET_INFO_SYSTEM_ENV")) return "";
  Statement st = im.prepare("SELECT value FROM TARGET_INFO_SYSTEM_ENV WHERE name = 'Hostname' LIMIT 1");
  if (st && st.step()) return st.text(0);
  return "";
}

// Device properties from TARGET_INFO_GPU (keyed by CUDA device ordinal), joined via
// TARGET_INFO_CUDA_DEVICE (cudaId, pid -> gpuId) where present.
void fill_device(NsysImport& im, RankRow& r) {
  if (!im.db.has_table("TARGET_INFO_GPU")) return;
  const std::string t = "TARGET_INFO_GPU";
  std::string gpu_key = im.col(t, "cuDevice", "id");
  std::string where = gpu_key + " = ?1";
  if (im.db.has_table("TARGET_INFO_CUDA_DEVICE")) {
    where = "id = coalesce((SELECT gpuId FROM TARGET_INFO_CUDA_DEVICE WHERE cudaId = ?1 AND pid = ?2 LIMIT 1), "
            "(SELECT gpuId FROM TARGET_INFO_CUDA_DEVICE WHERE cudaId = ?1 LIMIT 1), -1) OR (" +
            gpu_key + " = ?1 AND NOT EXISTS (SELECT 1 FROM TARGET_INFO_CUDA_DEVICE WHERE cudaId = ?1))";
  }
  Statement st = im.prepare("SELECT " + im.col(t, "name") + ", " + im.col(t, "busLocation") + ", " +
                            im.col(t, "uuid") + ", " + im.col(t, "smCount") + ", " + im.col(t, "totalMemory") +
                            ", " + im.col(t, "computeMajor") + ", " + im.col(t, "computeMinor") + " FROM " + t +
                            " WHERE " + where + " LIMIT 1");
  if (!st) return;
  st.bind(1, static_cast<std::int64_t>(r.device)).bind(2, r.pid);
  if (!st.step()) return;
  r.gpu_name = st.opt_text(0).value_or("");
  r.bus_id = st.opt_text(1).value_or("");
  r.gpu_uuid = st.opt_text(2).value_or("");
  r.sm_count = static_cast<int>(st.opt_i64(3).value_or(0));
  r.memory_bytes = st.opt_i64(4).value_or(0);
  if (!st.is_null(5) && !st.is_null(6))
    r.compute_cap = std::to_string(st.i64(5)) + "." + std::to_string(st.i64(6));
}

// Every process that ran kernels is a rank. Ranks named by NCCL payloads are claimed
// first; the rest take the lowest free ranks in (device, pid) order.
bool assign_ranks(NsysImport& im) {
  if (!im.db.has_table("CUPTI_ACTIVITY_KIND_KERNEL")) return true;
  struct Proc {
    std::int64_t pid;
    int device;
  };
  std::vector<Proc> procs;
  {
    // The device a process used most (processes may touch several).
    Statement st = im.prepare(
        "SELECT pid, deviceId FROM (SELECT (globalPid >> 24) & 16777215 AS pid, deviceId, count(*) AS n "
        "FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY 1, 2 ORDER BY 1, n DESC, deviceId) GROUP BY pid");
    if (!st) return false;
    while (st.step()) procs.push_back({st.i64(0), static_cast<int>(st.i64(1))});
    if (!im.finished_ok(st, "CUPTI_ACTIVITY_KIND_KERNEL")) return false;
  }
  std::sort(procs.begin(), procs.end(),
            [](const Proc& a, const Proc& b) { return std::tie(a.device, a.pid) < std::tie(b.device, b.pid); });
  std::map<std::int64_t, std::string> names;
  if (im.db.has_table("PROCESSES")) {
    Statement st = im.prepare("SELECT pid, name FROM PROCESSES");
    while (st && st.step()) names[st.i64(0)] = st.opt_text(1).value_or("");
  }
  auto known = nccl_ranks_from_payloads(im);
  std::map<std::int64_t, RankId> chosen;
  for (const auto& p : procs) {  // ranks the job itself reported
    auto it = known.find(p.pid);
    if (it == known.end() || im.ctx.taken().count(it->second)) continue;
    auto r = im.ctx.claim_rank(it->second, im.file);
    if (r) chosen[p.pid] = *r;
  }
  for (const auto& p : procs) {
    if (chosen.count(p.pid)) continue;
    auto r = im.ctx.claim_rank(im.ctx.next_free_rank(), im.file);
    if (!r) {
      im.error = r.error().message;
      return false;
    }
    chosen[p.pid] = *r;
  }
  std::string host = host_name(im);
  // The same export given twice would become two ranks with the same processes: refused.
  const std::string session = std::to_string(
      im.db.has_table("TARGET_INFO_SESSION_START_TIME")
          ? im.db.scalar("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME LIMIT 1").value_or(0)
          : 0);
  for (const auto& p : procs)
    if (!im.ctx.claim_process("nsys|" + host + "|" + session + "|" + std::to_string(p.pid))) {
      im.error = "process " + std::to_string(p.pid) + (host.empty() ? "" : " on " + host) +
                 " of this session is already imported from another input file (the same export given twice?)";
      return false;
    }
  for (const auto& p : procs) {
    RankRow row;
    row.rank = chosen[p.pid];
    row.host = host;
    row.pid = p.pid;
    row.device = p.device;
    row.clock_offset_ns = im.time_offset;
    row.source = "nsys:" + im.file.filename().string();
    if (names.count(p.pid) && !names[p.pid].empty()) row.source += " (" + names[p.pid] + ")";
    fill_device(im, row);
    im.w.add(row);
    im.rank_of_pid[p.pid] = row.rank;
  }
  return im.error.empty();
}

bool is_nsys_export(Db& db) {
  if (db.has_table("StringIds")) return true;
  for (const char* t : {"CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS"})
    if (db.has_table(t)) return true;
  return false;
}

// Thread names (ThreadNames) of the rank processes as meta "thread_name.RANK.TID",
// read by the GUI's lane labels. An export without the table has none.
void import_thread_names(NsysImport& im) {
  if (!im.db.has_table("ThreadNames")) return;
  const std::string t = "ThreadNames";
  Statement st = im.prepare("SELECT " + im.col(t, "globalTid", "0") + ", " + im.col(t, "nameId", "0") + " FROM " + t);
  if (!st) return;
  while (st.step()) {
    const std::int64_t gtid = st.i64(0);
    const auto rank = im.rank(pid_of(gtid));
    const std::string& name = im.str(st.i64(1));
    if (rank && !name.empty())
      im.w.set_meta("thread_name." + std::to_string(rank->value) + "." + std::to_string(tid_of(gtid)), name);
  }
}

}  // namespace
}  // namespace nsys_detail

namespace {
Expected<void> import_nsys_impl(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  using namespace nsys_detail;
  auto db = Db::open(file, Db::Mode::ReadOnly);
  if (!db) return Error{file.string() + ": cannot open as SQLite (" + db.error().message + ")"};
  // A file that is not a database at all fails here, on the first read of the schema.
  auto n = (*db)->scalar("SELECT count(*) FROM sqlite_master");
  if (!n) return Error{file.string() + ": not a valid SQLite database (" + (*db)->last_error() + ")"};
  if (!is_nsys_export(**db))
    return Error{file.string() + ": SQLite file is not an nsys export (no StringIds/CUPTI tables)"};

  NsysImport im{file, **db, w, ctx, {}, 0, {}, {}, {}, {}, {}, 0, 0, 0, {}};
  std::uint64_t size = 0;
  std::error_code ec;
  size = std::filesystem::file_size(file, ec);
  ctx.report(0, size);
  bool ok = load_strings(im);
  if (ok) {
    set_time_base(im);
    // Progress in stages (bytes are not read in order in a database file).
    ok = assign_ranks(im) && import_activity(im);
    if (ok) ctx.report(size * 6 / 10, size);
    ok = ok && import_nvtx(im);
    if (ok) ctx.report(size * 9 / 10, size);
    ok = ok && import_nccl(im);
    if (ok) import_thread_names(im);
  }
  if (!ok || !im.error.empty())
    return Error{file.string() + ": corrupt or unreadable nsys export: " +
                 (im.error.empty() ? std::string("unknown error") : im.error)};
  for (const auto& [what, count] : im.dropped)
    if (count > 0)
      w.add(StatRow{"nsys_rows_outside_ranks", Severity::Info, count, std::nullopt,
                    file.filename().string() + ": " + std::to_string(count) + " " + what +
                        " rows from processes that ran no kernels (not imported)"});
  const std::string fname = file.filename().string();
  if (!im.db.has_table("StringIds"))
    w.add(StatRow{"nsys_no_string_ids", Severity::Error, 1, std::nullopt,
                  fname + ": no StringIds table; kernel, API and NVTX names are unknown"});
  if (im.unknown_names > 0)
    w.add(StatRow{"nsys_unknown_kernel_names", Severity::Error, im.unknown_names, std::nullopt,
                  fname + ": " + std::to_string(im.unknown_names) +
                      " kernels name a string id the export does not hold (stored as <unknown kernel>)"});
  if (im.clamped > 0)
    w.add(StatRow{"nsys_negative_duration_clamped", Severity::Error, im.clamped, std::nullopt,
                  fname + ": " + std::to_string(im.clamped) +
                      " rows end before they start (or last beyond the time range); stored with duration 0"});
  if (im.time_overflows > 0)
    w.add(StatRow{"nsys_time_overflow", Severity::Error, im.time_overflows, std::nullopt,
                  fname + ": " + std::to_string(im.time_overflows) +
                      " timestamps overflow the run clock with the session offset; clamped to the time range"});
  if (im.rank_of_pid.empty())
    w.add(StatRow{"nsys_no_gpu_processes", Severity::Error, 1, std::nullopt,
                  file.filename().string() + ": no process ran CUDA kernels; nothing imported as a rank"});
  ctx.report(size, size);
  return {};
}
}  // namespace

Expected<void> import_nsys(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  try {
    return import_nsys_impl(file, w, ctx);
  } catch (const std::exception& e) {  // a safety net: no exception crosses the library API
    return Error{file.string() + ": nsys import failed: " + e.what()};
  }
}

}  // namespace moetune::import
