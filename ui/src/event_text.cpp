// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/event_text.h"

#include "moetune/ui/run_loader.h"

namespace moetune::ui {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }
QString row(const QString& k, const QString& v) {
  return QStringLiteral("<tr><td><b>") + k + QStringLiteral("</b></td><td>") + v.toHtmlEscaped() +
         QStringLiteral("</td></tr>");
}
// "pt_main_thread (tid 2919752)": the trace's thread name where it has one.
QString thread_text(const analyzers::RunData& d, int rank, std::int64_t tid) {
  const std::string name = thread_name(d, rank, tid);
  return name.empty() ? QString::number(tid) : qs(name) + QStringLiteral(" (tid ") + QString::number(tid) + QLatin1Char(')');
}
}  // namespace

QString format_duration(std::int64_t ns) {
  const double a = double(ns < 0 ? -ns : ns);
  if (a >= 1e9) return QString::number(double(ns) / 1e9, 'f', 3) + QStringLiteral(" s");
  if (a >= 1e6) return QString::number(double(ns) / 1e6, 'f', 3) + QStringLiteral(" ms");
  if (a >= 1e3) return QString::number(double(ns) / 1e3, 'f', 2) + QStringLiteral(" µs");
  return QString::number(ns) + QStringLiteral(" ns");
}

QString format_bytes(std::int64_t b) {
  const double a = double(b);
  if (a >= 1024.0 * 1024 * 1024) return QString::number(a / (1024.0 * 1024 * 1024), 'f', 2) + QStringLiteral(" GiB");
  if (a >= 1024.0 * 1024) return QString::number(a / (1024.0 * 1024), 'f', 2) + QStringLiteral(" MiB");
  if (a >= 1024.0) return QString::number(a / 1024.0, 'f', 1) + QStringLiteral(" KiB");
  return QString::number(b) + QStringLiteral(" B");
}

QString event_tooltip(const LoadedRun& run, EventRef ref) {
  if (!ref.valid() || ref.lane >= int(run.timeline.lanes.size())) return {};
  const Lane& l = run.timeline.lanes[std::size_t(ref.lane)];
  if (ref.index >= std::int64_t(l.events.size())) return {};
  const LaneEvent& e = l.events[std::size_t(ref.index)];
  return qs(run.timeline.names[e.name]) + QStringLiteral("\n") + format_duration(e.dur) +
         QStringLiteral(" · rank ") + QString::number(l.rank) + QStringLiteral(" · ") +
         QLatin1String(to_string(l.kind));
}

QString event_details_html(const LoadedRun& run, EventRef ref) {
  if (!ref.valid() || ref.lane >= int(run.timeline.lanes.size())) return {};
  const Lane& l = run.timeline.lanes[std::size_t(ref.lane)];
  if (ref.index >= std::int64_t(l.events.size())) return {};
  const LaneEvent& e = l.events[std::size_t(ref.index)];
  const auto& d = run.data;
  QString h = QStringLiteral("<h3>") + qs(run.timeline.names[e.name]).toHtmlEscaped() + QStringLiteral("</h3><table>");
  h += row(QStringLiteral("rank"), QString::number(l.rank));
  h += row(QStringLiteral("lane"), qs(l.label));
  h += row(QStringLiteral("start"), format_duration(e.start - run.timeline.t_begin) + QStringLiteral(" from run start"));
  h += row(QStringLiteral("duration"), format_duration(e.dur));
  std::int64_t corr = 0;
  switch (l.source_of(std::size_t(ref.index))) {
    case EventSource::Kernel: {
      const auto& k = d.kernels[e.ref];
      corr = k.correlation;
      h += row(QStringLiteral("stream"), QString::number(k.stream.value));
      auto dim = [](std::int64_t p) -> QString {  // QString, not a QStringBuilder over temporaries
        return QString::number(p & 0x1fffff) + QLatin1Char('x') + QString::number((p >> 21) & 0x1fffff) +
               QLatin1Char('x') + QString::number(p >> 42);
      };
      if (k.grid) h += row(QStringLiteral("grid / block"), dim(k.grid) + QStringLiteral(" / ") + dim(k.block));
      break;
    }
    case EventSource::Memcpy: {
      const auto& m = d.memcpys[e.ref];
      corr = m.correlation;
      h += row(QStringLiteral("bytes"), format_bytes(m.bytes));
      if (m.dur_ns > 0)
        h += row(QStringLiteral("throughput"), QString::number(double(m.bytes) / double(m.dur_ns), 'f', 2) + QStringLiteral(" GB/s"));
      break;
    }
    case EventSource::Memset: {
      const auto& m = d.memsets[e.ref];
      corr = m.correlation;
      h += row(QStringLiteral("bytes"), format_bytes(m.bytes));
      break;
    }
    case EventSource::Nvtx: {
      const auto& n = d.nvtx[e.ref];
      h += row(QStringLiteral("domain"), qs(d.str(n.domain)));
      h += row(QStringLiteral("thread"), thread_text(d, l.rank, n.tid));
      if (n.payload) h += row(QStringLiteral("payload"), qs(*n.payload));
      break;
    }
    case EventSource::NcclOp: {
      const auto& o = d.nccl_ops[e.ref];
      h += row(QStringLiteral("bytes"), format_bytes(o.bytes));
      h += row(QStringLiteral("count / dtype"), QString::number(o.count) + QStringLiteral(" ") + qs(o.dtype.value_or("?")));
      h += row(QStringLiteral("algo / proto"), qs(o.algo.value_or("?")) + QStringLiteral(" / ") + qs(o.proto.value_or("?")));
      h += row(QStringLiteral("channels"), QString::number(o.channels));
      h += row(QStringLiteral("comm / seq"), qs(o.comm_hash.value_or("?")) + QStringLiteral(" / ") + QString::number(o.seq));
      if (o.peer >= 0) h += row(QStringLiteral("peer"), QString::number(o.peer));
      if (o.nranks) h += row(QStringLiteral("nranks"), QString::number(o.nranks));
      if (o.enqueue_ns) h += row(QStringLiteral("queued"), format_duration(o.start_ns - *o.enqueue_ns));
      break;
    }
    case EventSource::Api: {
      const auto& a = d.api_calls[e.ref];
      h += row(QStringLiteral("thread"), thread_text(d, l.rank, a.tid));
      h += row(QStringLiteral("kind"), a.kind == ApiKind::Sync ? QStringLiteral("synchronisation")
                                       : a.kind == ApiKind::Driver ? QStringLiteral("driver") : QStringLiteral("runtime"));
      if (a.correlation) {
        for (const auto& k : d.kernels) {
          if (k.correlation == a.correlation && k.rank.value == l.rank) {
            h += row(QStringLiteral("launches"), qs(d.str(k.name)) + QStringLiteral(" (starts ") +
                     format_duration(k.start_ns - a.start_ns) + QStringLiteral(" later)"));
            break;
          }
        }
      }
      break;
    }
    case EventSource::Step: {
      const auto& s = d.steps[e.ref];
      if (s.tokens) h += row(QStringLiteral("tokens"), QString::number(*s.tokens));
      break;
    }
  }
  if (corr != 0) {
    for (const auto& a : d.api_calls) {
      if (a.correlation == corr && a.rank.value == l.rank) {
        h += row(QStringLiteral("launched by"), qs(d.str(a.name)) + QStringLiteral(" (thread ") +
                 QString::number(a.tid) + QStringLiteral(", ") + format_duration(a.dur_ns) +
                 QStringLiteral(", ") + format_duration(e.start - a.start_ns) + QStringLiteral(" before start)"));
        break;
      }
    }
  }
  h += QStringLiteral("</table>");
  return h;
}

}  // namespace moetune::ui
