// SPDX-License-Identifier: Apache-2.0
// The NVTX `moe` domain (docs/CONVENTIONS-NVTX.md) as the GPU programs write it: ranges for
// steps and phases, marks for routing. Used by moe_nccl and by the collectors' GPU test
// client (tests/gpu/moe_client.cu); header-only, NVTX and the standard library alone.
#pragma once
#include <nvtx3/nvToolsExt.h>

#include <string>

namespace moe {

// NVTX domain `moe` (docs/CONVENTIONS-NVTX.md): ranges for steps and phases, marks for routing.
class Nvtx {
 public:
  Nvtx() : dom_(nvtxDomainCreateA("moe")) {}
  void push(const std::string& msg) const {
    auto a = attr(msg);
    nvtxDomainRangePushEx(dom_, &a);
  }
  void pop() const { nvtxDomainRangePop(dom_); }
  void mark(const std::string& msg) const {
    auto a = attr(msg);
    nvtxDomainMarkEx(dom_, &a);
  }

 private:
  static nvtxEventAttributes_t attr(const std::string& msg) {
    nvtxEventAttributes_t a{};
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = msg.c_str();
    return a;
  }
  nvtxDomainHandle_t dom_;
};

// RAII range: push on construction, pop on destruction.
class NvtxRange {
 public:
  NvtxRange(const Nvtx& n, const std::string& msg) : n_(n) { n_.push(msg); }
  ~NvtxRange() { n_.pop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;

 private:
  const Nvtx& n_;
};

}  // namespace moe
