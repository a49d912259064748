// SPDX-License-Identifier: Apache-2.0
// nsys importer, stage 1: the CUPTI activity tables (kernels, memcpy, memset, runtime
// API, synchronization). Each table is read once, in file order; rows of processes
// that ran no kernels are counted, not imported. Communication kernels and the
// correlation ids of their launches are remembered for the NCCL stage.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "gpu_row.h"
#include "nsys_internal.h"

namespace moetune::import::nsys_detail {
namespace {

constexpr const char* kKernel = "CUPTI_ACTIVITY_KIND_KERNEL";
constexpr const char* kMemcpy = "CUPTI_ACTIVITY_KIND_MEMCPY";
constexpr const char* kMemset = "CUPTI_ACTIVITY_KIND_MEMSET";
constexpr const char* kRuntime = "CUPTI_ACTIVITY_KIND_RUNTIME";
constexpr const char* kSync = "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION";

// Key of a launch: (pid, correlation id); correlation ids are per process.
std::uint64_t launch_key(std::int64_t pid, std::int64_t corr) {
  return (static_cast<std::uint64_t>(pid) << 40) ^ static_cast<std::uint64_t>(corr);
}

bool read_kernels(NsysImport& im) {
  if (!im.db.has_table(kKernel)) return true;
  const std::string t = kKernel;
  // Prefer the short (base) name; fall back to the demangled one.
  std::string name = "coalesce(" + im.col(t, "shortName") + ", " + im.col(t, "demangledName") + ")";
  Statement st = im.prepare("SELECT start, end, globalPid, " + im.col(t, "streamId", "0") + ", " +
                            im.col(t, "correlationId") + ", " + name + ", " + im.col(t, "gridX", "1") + ", " +
                            im.col(t, "gridY", "1") + ", " + im.col(t, "gridZ", "1") + ", " +
                            im.col(t, "blockX", "1") + ", " + im.col(t, "blockY", "1") + ", " +
                            im.col(t, "blockZ", "1") + " FROM " + t + " ORDER BY start");
  if (!st) return false;
  std::int64_t dropped = 0;
  std::unordered_map<std::int64_t, StringId> names;  // nsys string id -> our string id
  while (st.step()) {
    std::int64_t pid = pid_of(st.i64(2));
    auto rank = im.rank(pid);
    if (!rank) {
      ++dropped;
      continue;
    }
    auto k = gpu_row<KernelRow>(*rank, StreamId(st.i64(3)), im.t(st.i64(0)), im.dur(st.i64(0), st.i64(1)),
                                st.opt_i64(4).value_or(0));
    std::int64_t nid = st.opt_i64(5).value_or(-1);
    auto it = names.find(nid);
    if (it == names.end()) {
      const std::string& s = im.str(nid);
      it = names.emplace(nid, im.w.intern(s.empty() ? "<unknown kernel>" : s)).first;

    }
    k.name = it->second;
    k.grid = pack_dim3(st.i64(6), st.i64(7), st.i64(8));
    k.block = pack_dim3(st.i64(9), st.i64(10), st.i64(11));
    im.w.add(k);
    const std::string& kname = im.str(nid);
    if (kname.empty()) ++im.unknown_names;
    if (is_nccl_kernel(kname)) {
      CommKernel c;
      c.rank = k.rank;
      c.pid = pid;
      c.correlation = k.correlation;
      c.start_ns = k.start_ns;
      c.end_ns = k.start_ns + k.dur_ns;
      c.stream = k.stream.value;
      c.kernel_id = im.w.last_kernel_id();
      c.name = kname;
      im.comm_kernels.push_back(std::move(c));
    }
  }
  im.dropped[kKernel] += dropped;
  return im.finished_ok(st, kKernel);
}

// Memcpy and memset rows share their leading columns: start, end, globalPid, streamId,
// bytes, correlationId (0-5); `extra` selects more columns (", a, b"), which `more(row, st)`
// reads from index 6 on. Rows of processes that are not ranks are counted, not imported.
template <class Row, class More>
bool read_copy_rows(NsysImport& im, const char* table, const std::string& extra, More more) {
  if (!im.db.has_table(table)) return true;
  const std::string t = table;
  Statement st = im.prepare("SELECT start, end, globalPid, " + im.col(t, "streamId", "0") + ", " +
                            im.col(t, "bytes", "0") + ", " + im.col(t, "correlationId") + extra + " FROM " + t);
  if (!st) return false;
  while (st.step()) {
    auto rank = im.rank(pid_of(st.i64(2)));
    if (!rank) {
      ++im.dropped[table];
      continue;
    }
    auto m = gpu_row<Row>(*rank, StreamId(st.i64(3)), im.t(st.i64(0)), im.dur(st.i64(0), st.i64(1)),
                          st.opt_i64(5).value_or(0));
    m.bytes = st.i64(4);
    more(m, st);
    im.w.add(m);
  }
  return im.finished_ok(st, table);
}

bool read_memcpys(NsysImport& im) {
  const std::string t = kMemcpy;
  return read_copy_rows<MemcpyRow>(
      im, kMemcpy,
      ", " + im.col(t, "copyKind", "0") + ", " + im.col(t, "srcDeviceId") + ", " + im.col(t, "dstDeviceId"),
      [](MemcpyRow& m, Statement& st) {
        std::int64_t kind = st.i64(6);
        // ENUM_CUDA_MEMCPY_OPER numbers are CUPTI's copy kinds (1 HtoD .. 10 PtoP, 11-13 UVM): kept as is.
        m.kind = (kind >= 0 && kind <= 13) ? static_cast<CopyKind>(kind) : CopyKind::Unknown;
        m.src_device = static_cast<int>(st.opt_i64(7).value_or(-1));
        m.dst_device = static_cast<int>(st.opt_i64(8).value_or(-1));
      });
}

bool read_memsets(NsysImport& im) {
  return read_copy_rows<MemsetRow>(im, kMemset, "", [](MemsetRow&, Statement&) {});
}

// Runtime/driver calls. Records the launching thread of comm kernels and the
// thread and name of synchronization calls (the SYNCHRONIZATION table has neither).
struct SyncCaller {
  std::int64_t tid = 0;
  StringId name;
};

bool read_runtime(NsysImport& im, const std::unordered_set<std::uint64_t>& sync_corr,
                  std::unordered_map<std::uint64_t, SyncCaller>& sync_callers) {
  std::unordered_map<std::uint64_t, CommKernel*> comm;
  for (auto& c : im.comm_kernels) comm[launch_key(c.pid, c.correlation)] = &c;
  if (!im.db.has_table(kRuntime)) return true;
  const std::string t = kRuntime;
  Statement st = im.prepare("SELECT start, end, globalTid, " + im.col(t, "correlationId") + ", nameId FROM " + t);
  if (!st) return false;
  std::unordered_map<std::int64_t, std::pair<StringId, bool>> names;  // nsys id -> (id, is driver)
  while (st.step()) {
    std::int64_t gtid = st.i64(2);
    auto rank = im.rank(pid_of(gtid));
    if (!rank) {
      ++im.dropped[kRuntime];
      continue;
    }
    std::int64_t nid = st.i64(4);
    auto it = names.find(nid);
    if (it == names.end()) {
      const std::string& s = im.str(nid);
      // Driver API names start with "cu" but not "cuda" (cuLaunchKernelEx vs cudaLaunchKernel).
      bool driver = s.rfind("cu", 0) == 0 && s.rfind("cuda", 0) != 0;
      it = names.emplace(nid, std::make_pair(im.w.intern(s.empty() ? "<unknown api>" : s), driver)).first;
    }
    ApiCallRow a;
    a.rank = *rank;
    a.tid = tid_of(gtid);
    a.start_ns = im.t(st.i64(0));
    a.dur_ns = im.dur(st.i64(0), st.i64(1));
    a.name = it->second.first;
    a.kind = it->second.second ? ApiKind::Driver : ApiKind::Runtime;
    a.correlation = st.opt_i64(3).value_or(0);
    im.w.add(a);
    std::uint64_t key = launch_key(pid_of(gtid), a.correlation);
    if (auto c = comm.find(key); c != comm.end()) {
      c->second->launch_tid = a.tid;
      c->second->launch_ns = a.start_ns;
    }
    if (sync_corr.count(key)) sync_callers[key] = {a.tid, a.name};
  }
  return im.finished_ok(st, kRuntime);
}

// Synchronization waits -> api_calls with kind Sync, named after the calling API
// (or the sync type's label when the call is not in the RUNTIME table).
bool read_sync(NsysImport& im) {
  std::unordered_set<std::uint64_t> sync_corr;
  std::unordered_map<std::uint64_t, SyncCaller> callers;
  bool has_sync = im.db.has_table(kSync);
  const std::string t = kSync;
  if (has_sync) {
    Statement st = im.prepare("SELECT globalPid, " + im.col(t, "correlationId") + " FROM " + t);
    if (!st) return false;
    while (st.step())
      if (!st.is_null(1)) sync_corr.insert(launch_key(pid_of(st.i64(0)), st.i64(1)));
    if (!im.finished_ok(st, kSync)) return false;
  }
  if (!read_runtime(im, sync_corr, callers)) return false;
  if (!has_sync) return true;
  std::map<std::int64_t, StringId> labels;
  if (im.db.has_table("ENUM_CUPTI_SYNC_TYPE")) {
    Statement e = im.prepare("SELECT id, label FROM ENUM_CUPTI_SYNC_TYPE");
    while (e && e.step()) labels[e.i64(0)] = im.w.intern(e.text(1));
  }
  Statement st = im.prepare("SELECT start, end, globalPid, " + im.col(t, "correlationId") + ", " +
                            im.col(t, "syncType", "0") + " FROM " + t);
  if (!st) return false;
  StringId unknown = im.w.intern("Synchronization");
  while (st.step()) {
    std::int64_t pid = pid_of(st.i64(2));
    auto rank = im.rank(pid);
    if (!rank) {
      ++im.dropped[kSync];
      continue;
    }
    ApiCallRow a;
    a.rank = *rank;
    a.start_ns = im.t(st.i64(0));
    a.dur_ns = im.dur(st.i64(0), st.i64(1));
    a.kind = ApiKind::Sync;
    a.correlation = st.opt_i64(3).value_or(0);
    auto lab = labels.find(st.i64(4));
    a.name = lab != labels.end() ? lab->second : unknown;
    if (auto c = callers.find(launch_key(pid, a.correlation)); c != callers.end() && !st.is_null(3)) {
      a.tid = c->second.tid;
      a.name = c->second.name;
    }
    im.w.add(a);
  }
  return im.finished_ok(st, kSync);
}

}  // namespace

bool import_activity(NsysImport& im) {
  return read_kernels(im) && read_memcpys(im) && read_memsets(im) && read_sync(im);
}

}  // namespace moetune::import::nsys_detail
