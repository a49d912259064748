// SPDX-License-Identifier: Apache-2.0
// Our declaration of the NCCL profiler plugin ABI, version 5, as NCCL 2.28 loads it
// (dlsym "ncclProfiler_v5" from the library named by NCCL_PROFILER_PLUGIN). The
// layout is a fact we must match; names follow NCCL's so the fields are searchable.
// tests/collectors/nccl_abi_test.cpp checks sizes and offsets (x86-64, LP64).
// The older tables (v1-v4) are declared at the end only so that an older NCCL that
// looks for them gets a table whose init declines cleanly.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern "C" {

// ncclResult_t: 0 = ncclSuccess; the plugin returns only that except from init.
typedef int ncclResult_t;
// NCCL's logger: (level, subsystem flags, file, line, printf format, ...).
typedef void (*ncclDebugLogger_t)(int level, unsigned long flags, const char* file, int line, const char* fmt, ...);

// Event type bits (descriptor `type`, and the activation mask).
enum : uint64_t {
  ncclProfileGroup = 1u << 0,         // group of operations (ncclGroupStart/End) after enqueue
  ncclProfileColl = 1u << 1,          // one collective operation of a communicator
  ncclProfileP2p = 1u << 2,           // one point-to-point operation (send or recv)
  ncclProfileProxyOp = 1u << 3,       // proxy-thread progress of one channel/peer of an op
  ncclProfileProxyStep = 1u << 4,     // one network transfer step of a proxy op
  ncclProfileProxyCtrl = 1u << 5,     // proxy thread state (idle/active/sleep)
  ncclProfileKernelCh = 1u << 6,      // one channel of an op's GPU kernel (GPU timestamps)
  ncclProfileNetPlugin = 1u << 7,     // events defined by the network plugin
  ncclProfileGroupApi = 1u << 8,      // ncclGroupStart/End API call (host)
  ncclProfileCollApi = 1u << 9,       // collective API call (host)
  ncclProfileP2pApi = 1u << 10,       // ncclSend/ncclRecv API call (host)
  ncclProfileKernelLaunch = 1u << 11  // kernel launch of a group (host)
};

// State transitions passed to recordEventState (values of NCCL 2.28's enum).
typedef enum {
  ncclProfilerProxyStepSendGPUWait = 8,    // send step waiting for the GPU to produce data
  ncclProfilerProxyStepSendWait = 9,       // send step posted to the network, waiting for completion
  ncclProfilerProxyStepRecvWait = 10,      // recv step posted, waiting for data
  ncclProfilerProxyStepRecvFlushWait = 11, // recv step flushing data to the GPU
  ncclProfilerProxyStepRecvGPUWait = 12,   // recv step waiting for the GPU to consume data
  ncclProfilerProxyOpInProgress_v4 = 19,   // proxy op started progressing
  ncclProfilerProxyStepSendPeerWait_v4 = 20,  // send step waiting for the peer's buffer
  ncclProfilerNetPluginUpdate = 21,        // network plugin event update
  ncclProfilerKernelChStop = 22            // kernel channel finished; args->kernelCh.pTimer = GPU stop time
} ncclProfilerEventState_v5_t;

// Event descriptor handed to startEvent.
typedef struct {
  uint64_t type;    // one ncclProfile* bit: which union member is valid
  void* parentObj;  // handle our plugin returned for the parent event (may be NULL / another process's)
  int rank;         // rank of the originating process in the communicator
  union {
    struct {
      int graphCaptured;  // the group is being captured in a CUDA graph
      int groupDepth;     // nesting depth of ncclGroupStart
    } groupApi;
    struct {
      const char* func;      // e.g. "AllReduce"
      size_t count;          // element count
      const char* datatype;  // e.g. "ncclFloat32"
      int root;              // root rank for rooted collectives
      void* stream;          // cudaStream_t of the call
      bool graphCaptured;    // captured in a CUDA graph
    } collApi;
    struct {
      const char* func;      // "Send" or "Recv"
      size_t count;          // element count
      const char* datatype;  // element type name
      void* stream;          // cudaStream_t of the call
      bool graphCaptured;    // captured in a CUDA graph
    } p2pApi;
    struct {
      void* stream;  // stream the group's kernel is launched on
    } kernelLaunch;
    struct {
      uint64_t seqNumber;    // per-communicator collective sequence number (same on every rank)
      const char* func;      // e.g. "AllReduce", "AllGather"
      void const* sendBuff;  // send buffer
      void* recvBuff;        // receive buffer
      size_t count;          // element count
      int root;              // root rank (rooted collectives)
      const char* datatype;  // e.g. "ncclFloat32", "ncclBfloat16"
      uint8_t nChannels;     // channels the op runs on
      uint8_t nWarps;        // warps per channel
      const char* algo;      // "RING", "TREE", "NVLS", ...
      const char* proto;     // "LL", "LL128", "SIMPLE"
      void* parentGroup;     // parent group handle (v4 compatibility)
    } coll;
    struct {
      const char* func;      // "Send" or "Recv"
      void* buff;            // user buffer
      const char* datatype;  // element type name
      size_t count;          // element count
      int peer;              // peer rank in the communicator
      uint8_t nChannels;     // channels used
      void* parentGroup;     // parent group handle (v4 compatibility)
    } p2p;
    struct {
      pid_t pid;          // process that posted the op (PXN: may be another process)
      uint8_t channelId;  // channel of this proxy op
      int peer;           // remote rank
      int nSteps;         // network steps of this op
      int chunkSize;      // bytes per step
      int isSend;         // 1 send, 0 recv
    } proxyOp;
    struct {
      int step;  // step index within the proxy op
    } proxyStep;
    struct {
      uint8_t channelId;  // channel of the kernel
      uint64_t pTimer;    // GPU %globaltimer at channel start (ns)
    } kernelCh;
    struct {
      int64_t id;  // plugin-defined event id
      void* data;  // plugin-defined data
    } netPlugin;
  };
} ncclProfilerEventDescr_v5_t;

// Extra data passed with a state transition.
typedef union {
  struct {
    size_t transSize;  // bytes transferred by a proxy step
  } proxyStep;
  struct {
    int appendedProxyOps;  // proxy ops appended by the proxy thread
  } proxyCtrl;
  struct {
    void* data;  // network plugin data
  } netPlugin;
  struct {
    uint64_t pTimer;  // GPU %globaltimer at channel stop (ns)
  } kernelCh;
} ncclProfilerEventStateArgs_v5_t;

// The exported plugin table.
typedef struct {
  const char* name;  // plugin name NCCL prints
  // Per communicator: creates *context, sets *eActivationMask (NCCL keeps reading it).
  ncclResult_t (*init)(void** context, uint64_t commId, int* eActivationMask, const char* commName, int nNodes,
                       int nranks, int rank, ncclDebugLogger_t logfn);
  // Starts an event; *eHandle = our handle (NULL: not tracked).
  ncclResult_t (*startEvent)(void* context, void** eHandle, ncclProfilerEventDescr_v5_t* eDescr);
  // Stops an event started with startEvent.
  ncclResult_t (*stopEvent)(void* eHandle);
  // Records a state transition of an event.
  ncclResult_t (*recordEventState)(void* eHandle, ncclProfilerEventState_v5_t eState,
                                   ncclProfilerEventStateArgs_v5_t* eStateArgs);
  // Per communicator: releases context.
  ncclResult_t (*finalize)(void* context);
} ncclProfiler_v5_t;

// ---- Older ABIs, exported only to decline them ------------------------------------
// NCCL 2.23 looks for ncclProfiler_v1, 2.24 for v2 (then v1), 2.25 for v3 (then v2,
// v1), 2.26/2.27 for v4 (then older). Their event descriptors differ from v5 (a uint8_t
// `type`, no seqNumber in 2.23, ...); we never read them, so the tables below type
// them as opaque pointers. What must be exact is each init's parameter list: NCCL
// calls it and reads *context and *eActivationMask back. A nonzero return makes NCCL
// continue without the plugin.

// v1, v2, v3: init(context, eActivationMask); the same shape in all three.
typedef struct {
  const char* name;  // plugin name NCCL prints
  // Per communicator: creates *context, sets *eActivationMask.
  ncclResult_t (*init)(void** context, int* eActivationMask);
  // Starts an event; eDescr is ncclProfilerEventDescr_v1/v2/v3_t (not read by us).
  ncclResult_t (*startEvent)(void* context, void** eHandle, void* eDescr);
  // Stops an event started with startEvent.
  ncclResult_t (*stopEvent)(void* eHandle);
  // Records a state transition; eState is that version's enum, eStateArgs its union.
  ncclResult_t (*recordEventState)(void* eHandle, int eState, void* eStateArgs);
  // Per communicator: releases context.
  ncclResult_t (*finalize)(void* context);
} ncclProfiler_v1_3_t;

// v4 (NCCL 2.26, 2.27): the communicator facts arrive in init, commHash after commName.
typedef struct {
  const char* name;  // plugin name NCCL prints
  // Per communicator: creates *context, sets *eActivationMask.
  ncclResult_t (*init)(void** context, int* eActivationMask, const char* commName, uint64_t commHash, int nNodes,
                       int nranks, int rank, ncclDebugLogger_t logfn);
  // Starts an event; eDescr is ncclProfilerEventDescr_v4_t (not read by us).
  ncclResult_t (*startEvent)(void* context, void** eHandle, void* eDescr);
  // Stops an event started with startEvent.
  ncclResult_t (*stopEvent)(void* eHandle);
  // Records a state transition; eState is ncclProfilerEventState_v4_t, eStateArgs its union.
  ncclResult_t (*recordEventState)(void* eHandle, int eState, void* eStateArgs);
  // Per communicator: releases context.
  ncclResult_t (*finalize)(void* context);
} ncclProfiler_v4_t;

}  // extern "C"
