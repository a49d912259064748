// SPDX-License-Identifier: Apache-2.0
// moetune attach PID|--all [--duration 5s|--steps N] [--stop] [--status]
// Talks to armed processes (moetune record --armed) over their private control
// sockets (protocol in collectors/live/include/moetune/live/control.h).
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "command.h"
#include "moetune/live/control.h"

namespace moetune::cli {
namespace {

struct AttachArgs {
  long pid = -1;
  bool all = false, stop = false, status = false;
  std::string duration;
  long steps = 0;
};

// "5s", "500ms", "2m", "3" (seconds) -> ms; -1 when malformed.
long parse_duration_ms(const std::string& s) {
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    return -1;
  }
  std::string unit = s.substr(pos);
  double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1e3 : unit == "m" ? v * 60e3 : -1;
  if (ms < 0 || v < 0) return -1;
  return static_cast<long>(ms);
}

// Sends `verb` to every endpoint; an endpoint that does not answer (or answers an error)
// is an error of the command: "attach: ..." listing them, exit 2, after the others got it.
void send_all(const std::vector<live::Endpoint>& eps, const char* verb, bool print) {
  std::string failed;
  for (const auto& e : eps) {
    auto r = live::control_request(e.path, std::string(verb) + "\n");
    if (r && !live::parse_status(*r)) r = Error{e.path.string() + ": " + *r};
    if (!r) failed += (failed.empty() ? "" : "; ") + r.error().message;
    else if (print) std::printf("pid %-8ld %-6s %s\n", e.pid, e.component.c_str(), r->c_str());
  }
  if (!failed.empty()) throw InputError(std::string("attach: ") + verb + " failed: " + failed);
}

std::uint64_t max_steps(const std::vector<live::Endpoint>& eps) {
  std::uint64_t m = 0;
  for (const auto& e : eps)
    if (auto r = live::control_request(e.path, "status\n"); r)
      if (auto s = live::parse_status(*r); s && s->steps > m) m = s->steps;
  return m;
}

// "pid 812 (cupti, nccl), pid 901 (cupti)" for the error message; "none".
std::string describe(const std::vector<live::Endpoint>& eps) {
  std::map<long, std::string> by_pid;
  for (const auto& e : eps) by_pid[e.pid] += (by_pid[e.pid].empty() ? "" : ", ") + e.component;
  std::string s;
  for (const auto& [pid, comps] : by_pid) s += (s.empty() ? "pid " : ", pid ") + std::to_string(pid) + " (" + comps + ")";
  return s.empty() ? "none" : s;
}

std::string dirs_text() {
  std::string s;
  for (const auto& d : live::control_dirs()) s += (s.empty() ? "" : " and ") + d.string();
  return s;
}

void run_attach(const AttachArgs& a, int& exit_code) {
  if (!a.all && a.pid <= 0) throw InputError("attach: give a PID or --all");
  if (!a.duration.empty() && a.steps > 0) throw InputError("attach: --duration and --steps exclude each other");
  long ms = -1;
  if (!a.duration.empty() && (ms = parse_duration_ms(a.duration)) < 0)
    throw InputError("attach: --duration '" + a.duration + "': want e.g. 5s, 500ms, 2m");
  auto eps = live::list_endpoints(a.all ? -1 : a.pid);
  if (eps.empty())
    for (const auto& why : live::control_dir_problems()) throw InputError("attach: " + why);
  if (eps.empty()) {
    if (a.all) throw InputError("attach: no armed moetune process of this user (looked in " + dirs_text() + ")");
    throw InputError("attach: process " + std::to_string(a.pid) + " has no moetune control socket in " + dirs_text() +
                     " (was it started with `moetune record --armed`, and has it initialised CUDA or NCCL yet?); "
                     "armed processes there: " + describe(live::list_endpoints(-1)));
  }
  exit_code = 0;
  if (a.status) return send_all(eps, "status", true);
  if (a.stop) return send_all(eps, "stop", true);
  std::uint64_t s0 = max_steps(eps);
  send_all(eps, "start", true);
  if (ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    send_all(eps, "stop", true);
  } else if (a.steps > 0) {
    // Steps are counted by the CUDA/NVTX collector as `moe` step ranges (NVTX "step N")
    // complete; they reach it with each buffer flush, about twice a second.
    const auto want = s0 + static_cast<std::uint64_t>(a.steps);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    std::uint64_t now = s0;
    bool alive = true;
    while ((now = max_steps(eps)) < want && std::chrono::steady_clock::now() < deadline &&
           (alive = !live::list_endpoints(a.all ? -1 : a.pid).empty()))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    send_all(eps, "stop", true);
    if (now < want)
      std::fprintf(stderr, "moetune: warning: stopped after %llu of %ld steps (%s)\n",
                   static_cast<unsigned long long>(now - s0), a.steps,
                   alive ? "30 min passed; does the job mark steps with NVTX \"step N\" ranges?" : "the process ended");
  }
}

const Register reg{"attach", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<AttachArgs>();
                     auto* c = app.add_subcommand("attach", "Start/stop capture in an armed process");
                     c->add_option("pid", a->pid, "process id of an armed job process");
                     c->add_flag("--all", a->all, "every armed process of this user");
                     c->add_option("--duration", a->duration, "capture for this long, then stop (5s, 500ms)");
                     c->add_option("--steps", a->steps, "capture this many `moe` steps, then stop");
                     c->add_flag("--stop", a->stop, "stop capturing");
                     c->add_flag("--status", a->status, "print each process's capture status");
                     c->callback([a, &exit_code] { run_attach(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
