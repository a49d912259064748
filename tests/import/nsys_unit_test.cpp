// SPDX-License-Identifier: Apache-2.0
// Unit tests of the nsys importer's pieces (kernel-name parsing, moe texts, payload
// decoding) and of the whole importer on a small synthetic export built here, which
// carries what the real fixtures lack: `moe` domain steps/routing/placement marks,
// NCCL binary payloads with schemas, a rank named by ncclCommInitRank, missing columns.
// Also the bad-input cases: a non-nsys SQLite file, a truncated export, garbage.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../collectors/import/src/nsys_internal.h"
#include "common/comm_kernel_cases.h"
#include "common/expect_rows.h"
#include "common/import_store.h"
#include "moetune/trace/moe_text.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;
using namespace moetune;
using namespace moetune::import::nsys_detail;

namespace {

fs::path temp_path(const std::string& tag, const char* ext) {
  return fs::temp_directory_path() / ("moetune_nsys_unit_" + tag + "_" + std::to_string(getpid()) + ext);
}

TEST(NsysKernelName, ParsesFuncAlgoProtoDtype) {
  test::expect_decodes_nccl_kernels(parse_nccl_kernel);
  EXPECT_FALSE(is_nccl_kernel("my_ncclDevKernel_x"));
}

TEST(NsysMoeText, TorchEmitNvtxTexts) {
  auto t = split_torch_nvtx("aten::mul, seq = 45328, op_id = 990726");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "aten::mul");
  ASSERT_EQ(t->fields.size(), 2u);
  EXPECT_EQ(t->fields[0].first, "seq");
  EXPECT_EQ(t->fields[1].second, 990726);
  EXPECT_EQ(split_torch_nvtx("ProfilerStep#3, op_id = 7")->name, "ProfilerStep#3");
  EXPECT_FALSE(split_torch_nvtx("a, b, c"));  // not key = integer
  EXPECT_FALSE(split_torch_nvtx("aten::cat, sizes = [[1, 2]]"));
  EXPECT_FALSE(split_torch_nvtx("plain"));
}

PayloadSchema send_schema() {
  // NCCL's Send/Recv schema as nsys exports it: comm id (uint64), bytes (size_t), peer (int).
  PayloadSchema s{1, 16777226, 24, "", {{18, "NCCL communicator ID", std::nullopt}, {22, "Message size [bytes]", 8},
                                         {5, "Peer rank", 16}}};
  return s;
}

std::string send_bytes(std::uint64_t comm, std::uint64_t bytes, std::int32_t peer) {
  std::string d(24, '\0');
  std::memcpy(d.data(), &comm, 8);
  std::memcpy(d.data() + 8, &bytes, 8);
  std::memcpy(d.data() + 16, &peer, 4);
  return d;
}

TEST(NsysPayload, DecodesBySchemaAndRejectsShortData) {
  auto js = decode_payload(send_schema(), send_bytes(0xabcdef0123ULL, 1 << 20, -1));
  ASSERT_TRUE(js);
  auto j = nlohmann::json::parse(*js);
  EXPECT_EQ(j["NCCL communicator ID"].get<std::uint64_t>(), 0xabcdef0123ULL);
  EXPECT_EQ(j["Message size [bytes]"].get<std::int64_t>(), 1 << 20);
  EXPECT_EQ(j["Peer rank"].get<int>(), -1);
  EXPECT_FALSE(decode_payload(send_schema(), std::string(10, '\0')));
  // Hex text form of the same bytes decodes identically.
  std::string hex;
  for (unsigned char c : send_bytes(5, 6, 7)) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  EXPECT_EQ(payload_bytes(hex, true), send_bytes(5, 6, 7));
}

// ---- a synthetic export ----

std::int64_t gid(std::int64_t pid, std::int64_t tid) { return (std::int64_t{1} << 56) | (pid << 24) | tid; }

void build_synthetic(const fs::path& p) {
  fs::remove(p);
  auto db = Db::open(p, Db::Mode::Create);
  ASSERT_TRUE(db.ok());
  Db& d = **db;
  ASSERT_TRUE(d.exec(R"(
    CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE TARGET_INFO_SESSION_START_TIME (utcEpochNs INTEGER, systemClockNs INTEGER);
    CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER, end INTEGER, deviceId INTEGER, streamId INTEGER,
      correlationId INTEGER, globalPid INTEGER, shortName INTEGER);
    CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER, end INTEGER, globalTid INTEGER, correlationId INTEGER,
      nameId INTEGER);
    CREATE TABLE NVTX_EVENTS (start INTEGER, end INTEGER, eventType INTEGER, text TEXT, globalTid INTEGER,
      textId INTEGER, domainId INTEGER, binaryData BLOB);
    CREATE TABLE NVTX_PAYLOAD_SCHEMAS (domainId INTEGER, schemaId INTEGER, name TEXT, type INTEGER,
      flags INTEGER, numEntries INTEGER, payloadSize INTEGER, alignTo INTEGER);
    CREATE TABLE NVTX_PAYLOAD_SCHEMA_ENTRIES (domainId INTEGER, schemaId INTEGER, idx INTEGER, flags INTEGER,
      type INTEGER, name TEXT, description TEXT, arrayOrUnionDetail INTEGER, "offset" INTEGER);
    INSERT INTO StringIds VALUES (1, 'gemm'), (2, 'ncclDevKernel_SendRecv'), (3, 'cudaLaunchKernel'),
      (4, 'cuLaunchKernelEx');
    INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (1700000000000000000, 1000);
    INSERT INTO NVTX_PAYLOAD_SCHEMAS VALUES (5, 16777226, NULL, 1, NULL, 3, 24, NULL),
      (5, 16777218, NULL, 1, NULL, 4, 24, NULL);
    INSERT INTO NVTX_PAYLOAD_SCHEMA_ENTRIES VALUES
      (5, 16777226, 0, NULL, 18, 'NCCL communicator ID', NULL, NULL, NULL),
      (5, 16777226, 1, NULL, 22, 'Message size [bytes]', NULL, NULL, 8),
      (5, 16777226, 2, NULL, 5, 'Peer rank', NULL, NULL, 16),
      (5, 16777218, 0, NULL, 18, 'NCCL communicator ID', NULL, NULL, NULL),
      (5, 16777218, 1, NULL, 5, 'No. of ranks', NULL, NULL, 8),
      (5, 16777218, 2, NULL, 5, 'Rank', NULL, NULL, 12),
      (5, 16777218, 3, NULL, 5, 'CUDA device', NULL, NULL, 16);
    -- pid 300 on device 0, pid 200 on device 1: device order alone would make pid 300 rank 0,
    -- but pid 300's ncclCommInitRank payload says rank 1 of 2.
    INSERT INTO NVTX_EVENTS VALUES (1000, NULL, 75, 'moe', 0, NULL, 7, NULL);
    INSERT INTO NVTX_EVENTS VALUES (1000, NULL, 75, 'NCCL', 0, NULL, 5, NULL);
    INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (2000, 2500, 0, 7, 11, )" +
                     std::to_string(gid(300, 0)) + R"(, 1),
      (3000, 3900, 0, 9, 12, )" + std::to_string(gid(300, 0)) + R"(, 2),
      (2100, 2600, 1, 7, 21, )" + std::to_string(gid(200, 0)) + R"(, 1);
    INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (1900, 1950, )" + std::to_string(gid(300, 301)) +
                     R"(, 11, 3), (2900, 2950, )" + std::to_string(gid(300, 301)) + R"(, 12, 4),
      (2000, 2050, )" + std::to_string(gid(200, 201)) + R"(, 21, 3);
    INSERT INTO NVTX_EVENTS VALUES (1500, 4000, 59, 'step 4 tokens=512', )" +
                     std::to_string(gid(300, 301)) + R"(, NULL, 7, NULL),
      (1600, NULL, 34, 'moe.route layer=2 tokens=3,0,9', )" + std::to_string(gid(300, 301)) + R"(, NULL, 7, NULL),
      (1700, NULL, 34, 'moe.placement layer=2 map=0:0,1:1|0,2:1', )" + std::to_string(gid(300, 301)) +
                     R"(, NULL, 7, NULL),
      (1800, NULL, 34, 'moe.route layer=x', )" + std::to_string(gid(300, 301)) + R"(, NULL, 7, NULL),
      (1550, 1560, 59, 'ProfilerStep#9', )" + std::to_string(gid(200, 201)) + R"(, NULL, 0, NULL);
  )").ok());
  // One payload as a BLOB, the others as hex text: nsys has used both for binaryData.
  auto blob = d.prepare("INSERT INTO NVTX_EVENTS VALUES (?1, ?2, 59, ?3, ?4, NULL, 5, CAST(?5 AS BLOB))");
  auto text = d.prepare("INSERT INTO NVTX_EVENTS VALUES (?1, ?2, 59, ?3, ?4, NULL, 5, ?5)");
  ASSERT_TRUE(blob.ok() && text.ok());
  auto put = [&](std::int64_t s, std::int64_t e, const char* name, std::int64_t g, const std::string& bytes,
                 bool as_blob) {
    std::string hex;
    for (unsigned char c : bytes) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", c);
      hex += b;
    }
    Statement& st = as_blob ? *blob : *text;
    st.bind(1, s).bind(2, e).bind(3, name).bind(4, g).bind(5, as_blob ? bytes : hex);
    EXPECT_EQ(st.exec(), 101 /* SQLITE_DONE */);
  };
  std::string init(24, '\0');
  std::uint64_t comm = 0x1234;
  std::int32_t nranks = 2, rank = 1, dev = 0;
  std::memcpy(init.data(), &comm, 8);
  std::memcpy(init.data() + 8, &nranks, 4);
  std::memcpy(init.data() + 12, &rank, 4);
  std::memcpy(init.data() + 16, &dev, 4);
  put(1100, 1200, "ncclCommInitRank", gid(300, 301), init, false);
  put(2800, 2810, "ncclSend", gid(300, 301), send_bytes(comm, 4096, 0), true);
  put(2820, 2830, "ncclSend", gid(300, 301), send_bytes(comm, 1024, 0), false);
}

TEST(NsysSynthetic, MoeConventionsPayloadsAndNcclJoin) {
  fs::path in = temp_path("synth", ".sqlite"), out = temp_path("synth", ".moetune");
  build_synthetic(in);
  if (HasFatalFailure()) return;
  auto rd = test::import_store({in}, out);
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_EQ(ranks[1].pid, 300);  // named rank 1 by its ncclCommInitRank payload
  EXPECT_EQ(ranks[0].pid, 200);
  const std::int64_t base = 1700000000000000000LL - 1000;  // raw clock: utc - systemClockNs
  auto steps = test::rows(rd->steps());
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& s : steps) {
    if (s.rank.value == 1) {
      EXPECT_EQ(s.step, 4);
      EXPECT_EQ(s.tokens, 512);
      EXPECT_EQ(s.start_ns, base + 1500);
      EXPECT_EQ(s.end_ns, base + 4000);
    } else {
      EXPECT_EQ(s.step, 9);  // ProfilerStep#9 in the default domain
    }
  }
  auto routing = test::rows(rd->expert_routing());
  ASSERT_EQ(routing.size(), 3u);
  EXPECT_EQ(routing[2].expert, 2);
  EXPECT_EQ(routing[2].tokens, 9);
  EXPECT_EQ(routing[2].step, 4);
  EXPECT_EQ(routing[2].layer, 2);
  EXPECT_EQ(routing[2].rank.value, 1);
  auto placement = test::rows(rd->expert_placement());
  EXPECT_EQ(placement.size(), 4u);
  auto ops = test::rows(rd->nccl_ops());
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].func, "Send");  // a SendRecv kernel whose group only sent
  EXPECT_EQ(ops[0].bytes, 4096 + 1024);
  EXPECT_EQ(ops[0].peer, 0);
  EXPECT_EQ(ops[0].comm_hash, "0x1234");
  EXPECT_EQ(ops[0].nranks, 2);
  EXPECT_EQ(ops[0].seq, 0);
  EXPECT_EQ(ops[0].enqueue_ns, base + 2800);
  EXPECT_EQ(ops[0].start_ns, base + 3000);
  auto api = test::rows(rd->api_calls());
  ASSERT_EQ(api.size(), 3u);
  int drivers = 0;
  for (const auto& a : api) drivers += a.kind == ApiKind::Driver;
  EXPECT_EQ(drivers, 1);  // cuLaunchKernelEx
  // The decoded payload is stored on the NVTX row.
  auto payload = rd->db().prepare("SELECT payload FROM nvtx WHERE payload LIKE '%Peer rank%' ORDER BY start_ns LIMIT 1");
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(payload->step());
  EXPECT_EQ(nlohmann::json::parse(payload->text(0))["Message size [bytes]"], 4096);
  EXPECT_EQ(rd->db().scalar("SELECT value FROM stats WHERE name = 'moe_malformed_marks'"), 1);
  fs::remove(in);
  fs::remove(out);
}

// ---- bad input ----

std::string import_error(const fs::path& in) {
  fs::path out = temp_path("bad", ".moetune");
  auto w = TraceWriter::create(out, {.force = true});
  EXPECT_TRUE(w.ok());
  import::ImportContext ctx({});
  auto r = import::import_nsys(in, **w, ctx);
  return r.ok() ? "" : r.error().message;
}

TEST(NsysBadInput, SqliteThatIsNotAnExport) {
  fs::path p = temp_path("notnsys", ".sqlite");
  fs::remove(p);
  {
    auto db = Db::open(p, Db::Mode::Create);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE strings (id INTEGER, value TEXT); CREATE TABLE kernels (id INTEGER);").ok());
  }
  std::string e = import_error(p);
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  EXPECT_NE(e.find("SQLite file is not an nsys export (no StringIds/CUPTI tables)"), std::string::npos) << e;
  fs::remove(p);
}

TEST(NsysBadInput, TruncatedExportIsAnErrorNotACrash) {
  fs::path src = fs::path(MOETUNE_SHARED_DATA) / "external/nsys/nsys_ai_mfu_2gpu_before.sqlite";
  for (std::size_t keep : {std::size_t{100}, std::size_t{4096}, std::size_t{65536}, std::size_t{1 << 20}}) {
    fs::path p = temp_path("trunc" + std::to_string(keep), ".sqlite");
    {
      std::ifstream in(src, std::ios::binary);
      std::string buf(keep, '\0');
      in.read(buf.data(), static_cast<std::streamsize>(keep));
      std::ofstream(p, std::ios::binary).write(buf.data(), static_cast<std::streamsize>(keep));
    }
    std::string e = import_error(p);
    EXPECT_FALSE(e.empty()) << "truncated to " << keep << " bytes imported without error";
    EXPECT_EQ(e.rfind(p.string() + ": ", 0), 0u) << e;
    fs::remove(p);
  }
}

TEST(NsysBadInput, GarbageWithSqliteHeader) {
  fs::path p = temp_path("garbage", ".sqlite");
  std::string data = "SQLite format 3";
  data.push_back('\0');
  data += std::string(5000, '\x5a');
  std::ofstream(p, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  std::string e = import_error(p);
  EXPECT_EQ(e.rfind(p.string() + ": ", 0), 0u) << e;
  fs::remove(p);
}

}  // namespace
