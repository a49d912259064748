-- SPDX-License-Identifier: Apache-2.0
-- moetune trace store, format version 3 (PRAGMA user_version = 3).
-- Version 3 (this file): expert routing as one expert_counts row per (step, layer, rank)
-- with the per-expert counts as one list, replacing the expert_routing table (one row per
-- expert); a uniform GPU domain (NVSwitch host) as topology_domains + one
-- topology_domain_gpus row per GPU instead of all its pairs; nccl_lists data may be
-- bit-packed (tags 0x11/0x12, below); strings ending in a long integer list may be
-- packed BLOBs (strings.value). Version 2 files (expert_routing table, all pairs
-- in topology) are read as they are.
-- Version 2: nccl_ops.in_splits/out_splits/pg_ranks hold an id into
-- nccl_lists (compact, stored once per distinct list) instead of JSON text per op.
-- Version 1 files (JSON text in those columns, no nccl_lists) are read as they are.
--
-- One SQLite file per run. Every time is an int64 in nanoseconds on ONE clock per run
-- (CLOCK_REALTIME, i.e. ns since the Unix epoch; CUPTI's default). Durations are ns.
-- Columns named *_id that point at `strings` hold interned text. Rank is the global
-- rank of the process in the job (0..N-1). Readers refuse files whose user_version is
-- newer than theirs; older versions are read as they are (a table a version added is
-- absent from older files).
-- This file is embedded into the binary (create_schema runs it). The writer and reader
-- take their column lists from the descriptors in trace/include/moetune/trace/tables.h;
-- tests/trace/schema_desc_test.cpp checks that both name the same tables, views, columns
-- and types, columns in the same order. Text inside a CREATE statement is stored in every
-- file's sqlite_master: changing it changes the bytes every writer produces.

-- Free-form key/value facts about the run: format, source files, command line,
-- whether it is synthetic ("synthetic" = "1"), moetune version, creation time.
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,     -- fact name, e.g. "source", "synthetic", "command"
  value TEXT NOT NULL         -- fact value as text
);

-- One row per rank (process) of the job.
CREATE TABLE IF NOT EXISTS ranks (
  rank            INTEGER PRIMARY KEY, -- global rank, 0-based
  host            TEXT,                -- host name the process ran on
  pid             INTEGER,             -- OS process id
  device          INTEGER,             -- CUDA device ordinal the rank used (-1 unknown)
  gpu_name        TEXT,                -- e.g. "NVIDIA H200"
  gpu_uuid        TEXT,                -- GPU UUID as nvidia-smi prints it
  bus_id          TEXT,                -- PCIe bus id, e.g. "00000000:1B:00.0"
  clock_offset_ns INTEGER DEFAULT 0,   -- ns added to this rank's raw times to land on the run clock
  source          TEXT,                -- what produced the rank: "kineto:FILE", "nsys:FILE", "cupti", "synth"
  sm_count        INTEGER,             -- streaming multiprocessors (0 unknown)
  memory_bytes    INTEGER,             -- device memory, bytes (0 unknown)
  compute_cap     TEXT,                -- compute capability "9.0"
  pcie_gen        INTEGER,             -- PCIe link generation (0 unknown)
  pcie_width      INTEGER              -- PCIe link width in lanes (0 unknown)
);

-- Interned strings (kernel names, API names, NVTX text, domains).
CREATE TABLE IF NOT EXISTS strings (
  id    INTEGER PRIMARY KEY,  -- string id referenced by *_id columns
  value TEXT NOT NULL         -- the text; format 3: a text ending in >= 8 plain integers
                              -- ("moe.route layer=3 tokens=31,33,...") may be a BLOB: byte 1,
                              -- varint n, the first n bytes of the text, then the integers as a
                              -- list in nccl_lists' encoding (trace/src/string_pack.cpp)
);

-- GPU kernels, one row per launch execution. Clustered on (rank, start_ns, id)
-- (WITHOUT ROWID): range queries per rank read contiguous pages and no separate
-- index is stored, which keeps a row near 50 bytes on disk.
CREATE TABLE IF NOT EXISTS kernels (
  id          INTEGER NOT NULL,  -- unique kernel id in this run (assigned by the writer, 1..)
  rank        INTEGER NOT NULL,  -- global rank
  stream      INTEGER NOT NULL,  -- CUDA stream id as the source reports it
  start_ns    INTEGER NOT NULL,  -- GPU start, ns on the run clock
  dur_ns      INTEGER NOT NULL,  -- duration, ns (>= 0)
  name_id     INTEGER NOT NULL,  -- kernel name (demangled where the source gives it) -> strings
  correlation INTEGER,           -- launch correlation id (matches api_calls.correlation on the same rank)
  grid        INTEGER,           -- grid size packed x | y<<21 | z<<42
  block       INTEGER,           -- block size packed x | y<<21 | z<<42
  PRIMARY KEY (rank, start_ns, id)
) WITHOUT ROWID;

-- Memory copies (host<->device, device<->device, peer).
CREATE TABLE IF NOT EXISTS memcpys (
  id          INTEGER PRIMARY KEY,
  rank        INTEGER NOT NULL,  -- global rank
  stream      INTEGER NOT NULL,  -- CUDA stream id
  start_ns    INTEGER NOT NULL,  -- ns on the run clock
  dur_ns      INTEGER NOT NULL,  -- ns
  bytes       INTEGER NOT NULL,  -- bytes copied
  kind        INTEGER NOT NULL,  -- CUPTI copy kind: 1 HtoD, 2 DtoH, 8 DtoD, 10 PtoP, 0 unknown
  src_device  INTEGER,           -- source device for peer copies (-1 unknown)
  dst_device  INTEGER,           -- destination device for peer copies (-1 unknown)
  correlation INTEGER            -- launch correlation id
);
CREATE INDEX IF NOT EXISTS memcpys_rank_start ON memcpys(rank, start_ns);

-- Memsets.
CREATE TABLE IF NOT EXISTS memsets (
  id          INTEGER PRIMARY KEY,
  rank        INTEGER NOT NULL,  -- global rank
  stream      INTEGER NOT NULL,  -- CUDA stream id
  start_ns    INTEGER NOT NULL,  -- ns on the run clock
  dur_ns      INTEGER NOT NULL,  -- ns
  bytes       INTEGER NOT NULL,  -- bytes set
  correlation INTEGER            -- launch correlation id
);
CREATE INDEX IF NOT EXISTS memsets_rank_start ON memsets(rank, start_ns);

-- Host-side CUDA runtime / driver calls and synchronisation waits.
CREATE TABLE IF NOT EXISTS api_calls (
  id          INTEGER PRIMARY KEY,
  rank        INTEGER NOT NULL,  -- global rank
  tid         INTEGER NOT NULL,  -- OS thread id
  start_ns    INTEGER NOT NULL,  -- ns on the run clock
  dur_ns      INTEGER NOT NULL,  -- ns
  name_id     INTEGER NOT NULL,  -- API name, e.g. "cudaLaunchKernel" -> strings
  kind        INTEGER NOT NULL,  -- 1 runtime, 2 driver, 3 synchronization (event/stream/context sync wait)
  correlation INTEGER            -- correlation id linking to kernels/memcpys/memsets
);
CREATE INDEX IF NOT EXISTS api_calls_rank_start ON api_calls(rank, start_ns);

-- Annotations: NVTX ranges and marks, torch user annotations, CPU ops.
CREATE TABLE IF NOT EXISTS nvtx (
  id        INTEGER PRIMARY KEY,
  rank      INTEGER NOT NULL,  -- global rank
  tid       INTEGER NOT NULL,  -- OS thread id (0 for GPU-side annotations)
  start_ns  INTEGER NOT NULL,  -- ns on the run clock
  dur_ns    INTEGER NOT NULL,  -- ns; 0 for an instant mark
  name_id   INTEGER NOT NULL,  -- message text -> strings
  domain_id INTEGER NOT NULL,  -- NVTX domain or source category ("moe", "NCCL", "user_annotation", "cpu_op") -> strings
  payload   TEXT               -- decoded payload as JSON text, or NULL
);
CREATE INDEX IF NOT EXISTS nvtx_rank_start ON nvtx(rank, start_ns);

-- NCCL operations (collectives and point-to-point), one row per rank per op.
CREATE TABLE IF NOT EXISTS nccl_ops (
  id          INTEGER PRIMARY KEY,
  rank        INTEGER NOT NULL,  -- global rank
  comm_hash   TEXT,              -- communicator id (hash or process-group name); NULL unknown
  seq         INTEGER,           -- per-communicator sequence number (-1 unknown)
  func        TEXT NOT NULL,     -- "AllReduce", "AllToAll", "Send", "Recv", "SendRecv", "AllGather", ...
  algo        TEXT,              -- "Ring", "Tree", "NVLS", ... NULL unknown
  proto       TEXT,              -- "LL", "LL128", "Simple"; NULL unknown
  channels    INTEGER,           -- channels used (0 unknown)
  count       INTEGER,           -- element count
  dtype       TEXT,              -- element type, e.g. "Float", "BFloat16"
  bytes       INTEGER,           -- payload bytes this rank contributes (count x type size, or sum of splits)
  peer        INTEGER,           -- peer rank for Send/Recv (-1 none)
  root        INTEGER,           -- root rank for rooted collectives (-1 none)
  nranks      INTEGER,           -- communicator size (0 unknown)
  enqueue_ns  INTEGER,           -- host enqueue time, ns on the run clock (NULL unknown)
  start_ns    INTEGER NOT NULL,  -- GPU start of the op's kernel, ns on the run clock
  end_ns      INTEGER NOT NULL,  -- GPU end, ns on the run clock
  stream      INTEGER,           -- CUDA stream id of the op's kernel
  kernel_id   INTEGER,           -- kernels.id of the op's kernel, NULL if none
  in_splits   BLOB,              -- all-to-all input split sizes: INTEGER id -> nccl_lists, or the JSON array
                                 -- as TEXT when it is not a plain list of integers; NULL if none
  out_splits  BLOB,              -- all-to-all output split sizes, same encoding; NULL if none
  pg_name     TEXT,              -- process group name (PyTorch)
  pg_ranks    BLOB               -- process group global ranks, same encoding as in_splits
);
CREATE INDEX IF NOT EXISTS nccl_ops_rank_start ON nccl_ops(rank, start_ns);

-- Integer lists nccl_ops carry (split sizes per peer, group ranks), each distinct list
-- stored once. data: one tag byte (1: the JSON text separates entries with ",", 2: with
-- ", ") then the entries as unsigned LEB128 varints, where a 0 is followed by a varint
-- n and stands for n + 1 zeros. A 1024-rank all-to-all list is ~1 KB here, ~5 KB as text.
CREATE TABLE IF NOT EXISTS nccl_lists (
  id    INTEGER PRIMARY KEY,  -- referenced by nccl_ops.in_splits/out_splits/pg_ranks
  data  BLOB NOT NULL         -- encoded list (see above)
);

-- Tokens routed to the experts, reported by the application (NVTX `moe` domain) or
-- imported: one row per (step, layer, source rank, report time) with the count of every
-- expert as one list. Lists (experts, tokens) are nccl_lists-encoded (tag byte, varints;
-- packed where smaller); a list with negative values is its JSON text after a 0 tag byte.
-- Logical rows (step, layer, rank, expert, tokens, time_ns) are TraceReader::expert_routing();
-- format 1/2 files hold them as the table expert_routing with those columns.
CREATE TABLE IF NOT EXISTS expert_counts (
  step     INTEGER NOT NULL,  -- training/inference step index
  layer    INTEGER NOT NULL,  -- MoE layer index
  rank     INTEGER NOT NULL,  -- source rank whose tokens were routed
  time_ns  INTEGER,           -- when the routing was reported, ns on the run clock (NULL unknown)
  n        INTEGER NOT NULL,  -- entries (experts) in this row
  expert0  INTEGER NOT NULL,  -- first expert; experts expert0, expert0 + 1, ... when `experts` is NULL
  experts  BLOB,              -- the expert of each entry as a list, NULL when consecutive from expert0
  tokens   BLOB NOT NULL      -- tokens sent to each entry's expert from this rank in this step (list)
);

-- Where each expert (and each replica) lives.
CREATE TABLE IF NOT EXISTS expert_placement (
  layer   INTEGER NOT NULL,  -- MoE layer index
  expert  INTEGER NOT NULL,  -- logical expert index
  rank    INTEGER NOT NULL,  -- rank holding this copy
  replica INTEGER NOT NULL   -- 0 for the primary copy, 1.. for replicas
);

-- Links between pairs of GPUs (and GPU-NIC), as nvidia-smi topo -m / NVML report them.
CREATE TABLE IF NOT EXISTS topology (
  host           TEXT,              -- host name ("" single host)
  a              TEXT NOT NULL,     -- endpoint label, e.g. "GPU0", "NIC1"
  b              TEXT NOT NULL,     -- endpoint label
  rank_a         INTEGER,           -- rank on endpoint a, NULL if not a rank
  rank_b         INTEGER,           -- rank on endpoint b, NULL if not a rank
  link           TEXT NOT NULL,     -- "NV18", "PIX", "PXB", "PHB", "NODE", "SYS", "NET", "SOCK", "X"
  bandwidth_gbps REAL,              -- unidirectional ceiling, GB/s (NULL unknown)
  source         TEXT               -- "nvidia-smi", "nvml", "synth", file name
);

-- A domain of GPUs every pair of which has the same link, host, bandwidth and source (an
-- NVSwitch/NVLink host of n GPUs): its n(n-1)/2 pairs are the pairs (i, j), i < j, of its
-- GPUs in idx order, and come among the topology rows right after the row whose rowid is
-- after_row. The view topology_pairs lists both kinds as topology rows.
CREATE TABLE IF NOT EXISTS topology_domains (
  id             INTEGER PRIMARY KEY,
  after_row      INTEGER NOT NULL,  -- topology.rowid of the pair row before this domain's pairs (0: first)
  host           TEXT,              -- host of every pair (as topology.host)
  link           TEXT NOT NULL,     -- link of every pair, e.g. "NV18"
  bandwidth_gbps REAL,              -- unidirectional ceiling, GB/s (NULL unknown)
  source         TEXT               -- as topology.source
);
CREATE TABLE IF NOT EXISTS topology_domain_gpus (
  domain INTEGER NOT NULL,  -- topology_domains.id
  idx    INTEGER NOT NULL,  -- position in the domain, 0..n-1
  label  TEXT NOT NULL,     -- endpoint label, e.g. "node0:GPU3"
  rank   INTEGER,           -- rank on this GPU, NULL if none
  PRIMARY KEY (domain, idx)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS topology_pairs AS
  SELECT host, a, b, rank_a, rank_b, link, bandwidth_gbps, source FROM topology
  UNION ALL
  SELECT d.host, x.label, y.label, x.rank, y.rank, d.link, d.bandwidth_gbps, d.source
  FROM topology_domains d JOIN topology_domain_gpus x ON x.domain = d.id
  JOIN topology_domain_gpus y ON y.domain = d.id AND y.idx > x.idx;

-- Steps (ProfilerStep#N, NVTX step ranges), per rank.
CREATE TABLE IF NOT EXISTS steps (
  rank     INTEGER NOT NULL,  -- global rank
  step     INTEGER NOT NULL,  -- step number as the application numbered it
  start_ns INTEGER NOT NULL,  -- ns on the run clock
  end_ns   INTEGER NOT NULL,  -- ns on the run clock
  tokens   INTEGER            -- tokens processed in the step if reported (NULL unknown)
);
CREATE INDEX IF NOT EXISTS steps_rank ON steps(rank, step);

-- Measured collective baselines (nccl-tests *_perf output).
CREATE TABLE IF NOT EXISTS bench_results (
  source     TEXT,     -- file the numbers came from
  func       TEXT,     -- "AllReduce", "AllToAll", ...
  nranks     INTEGER,  -- ranks in the test
  bytes      INTEGER,  -- message size, bytes
  count      INTEGER,  -- elements
  dtype      TEXT,     -- element type
  time_us    REAL,     -- time per op, microseconds (out-of-place)
  algbw_gbps REAL,     -- algorithm bandwidth, GB/s
  busbw_gbps REAL,     -- bus bandwidth, GB/s
  in_place   INTEGER   -- 1 in-place column, 0 out-of-place
);

-- Trace health: what was dropped, clamped or unknown during capture/import.
CREATE TABLE IF NOT EXISTS stats (
  name        TEXT NOT NULL,  -- e.g. "dropped_records", "negative_duration_clamped"
  severity    TEXT NOT NULL,  -- "info", "error", "data_loss"
  value       INTEGER NOT NULL, -- count
  rank        INTEGER,        -- rank it applies to, NULL for the whole run
  description TEXT            -- one sentence for humans
);
