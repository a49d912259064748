// SPDX-License-Identifier: Apache-2.0
// The Qt report: summary, per-rank metrics, findings with recommendations, plots
// (step time, comm ratio, bus bandwidth, expert heatmap) and the topology matrix.
#include "moetune/ui/qcp.h"  // first: see qcp.h
#include "moetune/ui/report_qt.h"

#include <QApplication>
#include <QBuffer>
#include <QFile>
#include <QPdfWriter>
#include <QTextDocument>
#include <memory>

#include "moetune/ui/plot_builders.h"

namespace moetune::ui {

namespace {

QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }

struct Image {
  QString name;
  QImage img;
};

// Renders every plot offscreen; the caller decides how images are referenced.
std::vector<Image> render_plots(const analyzers::RunData& run, const analyzers::AnalysisResult& r) {
  std::vector<Image> out;
  auto grab = [&](const QString& name, auto&& build) {
    QCustomPlot plot;
    plot.resize(900, 380);
    const QString note = build(&plot);
    Q_UNUSED(note);
    out.push_back({name, plot.toPixmap(900, 380).toImage()});
  };
  if (!run.steps.empty()) grab(QStringLiteral("step_time.png"), [&](QCustomPlot* p) { return build_step_time_plot(p, run); });
  if (r.metrics.contains("per_step")) grab(QStringLiteral("comm_ratio.png"), [&](QCustomPlot* p) { return build_comm_ratio_plot(p, r); });
  if (!run.nccl_ops.empty()) grab(QStringLiteral("busbw.png"), [&](QCustomPlot* p) { return build_busbw_plot(p, run); });
  for (int layer : expert_layers(run)) {
    grab(QStringLiteral("experts_l") + QString::number(layer) + QStringLiteral(".png"),
         [&](QCustomPlot* p) { return build_expert_heatmap(p, run, &r, layer); });
    if (out.size() > 8) break;  // first layers only: the report stays readable
  }
  return out;
}

QString build_html(const analyzers::RunData& run, const analyzers::AnalysisResult& r, const std::vector<Image>& imgs,
                   bool inline_images) {
  QString h = QStringLiteral("<html><head><meta charset=\"utf-8\"><title>moetune report</title>"
                             "<style>body{font-family:sans-serif} td,th{border:1px solid #ccc;padding:2px 6px}"
                             "table{border-collapse:collapse}</style></head><body>");
  h += QStringLiteral("<h1>moetune report</h1><p>") + esc(run.path.string()) + QStringLiteral("</p>");
  h += QStringLiteral("<h2>Ranks</h2><table><tr><th>rank</th><th>host</th><th>GPU</th><th>source</th></tr>");
  for (const auto& k : run.ranks)
    h += QStringLiteral("<tr><td>") + QString::number(k.rank.value) + QStringLiteral("</td><td>") + esc(k.host) +
         QStringLiteral("</td><td>") + esc(k.gpu_name) + QStringLiteral("</td><td>") + esc(k.source) + QStringLiteral("</td></tr>");
  h += QStringLiteral("</table><p>kernels ") + QString::number(run.kernels.size()) + QStringLiteral(", NCCL ops ") +
       QString::number(run.nccl_ops.size()) + QStringLiteral(", NVTX ranges ") + QString::number(run.nvtx.size()) +
       QStringLiteral(", steps ") + QString::number(run.steps.size()) + QStringLiteral("</p>");
  if (r.metrics.contains("per_rank") && r.metrics["per_rank"].is_array() && !r.metrics["per_rank"].empty()) {
    // One row per metric, one column per rank: metric names stay readable on a page
    // (a column per metric breaks twenty names into letters).
    const auto& rows = r.metrics["per_rank"];
    std::vector<std::string> keys;
    for (auto it = rows[0].begin(); it != rows[0].end(); ++it) keys.push_back(it.key());
    auto cell = [](const nlohmann::json& v) {
      return v.is_number_float() ? QString::number(v.get<double>(), 'f', 3) : esc(v.is_string() ? v.get<std::string>() : v.dump());
    };
    h += QStringLiteral("<h2>Per rank</h2><table><tr><th>metric</th>");
    for (std::size_t c = 0; c < rows.size(); ++c)
      h += QStringLiteral("<th>") + (rows[c].contains("rank") ? cell(rows[c]["rank"]) : QString::number(c)) + QStringLiteral("</th>");
    h += QStringLiteral("</tr>");
    for (const auto& k : keys) {
      if (k == "rank") continue;
      h += QStringLiteral("<tr><th align=\"left\">") + esc(k) + QStringLiteral("</th>");
      for (const auto& row : rows)
        h += QStringLiteral("<td align=\"right\">") + (row.contains(k) ? cell(row[k]) : QString()) + QStringLiteral("</td>");
      h += QStringLiteral("</tr>");
    }
    h += QStringLiteral("</table>");
  }
  h += QStringLiteral("<h2>Findings (") + QString::number(r.findings.size()) + QStringLiteral(")</h2>");
  if (r.findings.empty()) h += QStringLiteral("<p>No findings.</p>");
  for (const auto& f : r.findings) {
    h += QStringLiteral("<h3>[") + QLatin1String(to_string(f.severity)) + QStringLiteral("] ") + esc(f.title) +
         QStringLiteral("</h3><p>") + QLatin1String(to_string(f.kind)) + QStringLiteral(" · estimated gain ") +
         QString::number(f.estimated_gain_pct, 'f', 1) + QStringLiteral(" % ") + esc(f.gain_basis) + QStringLiteral("</p><p>") +
         esc(f.recommendation.text) + QStringLiteral("</p><ul>");
    for (const auto& fx : f.recommendation.fixes)
      h += QStringLiteral("<li>") + esc(fx.type) + QStringLiteral(": <code>") + esc(fx.body.dump()) + QStringLiteral("</code></li>");
    h += QStringLiteral("</ul>");
  }
  for (const auto& n : r.notes) h += QStringLiteral("<p><i>") + esc(n) + QStringLiteral("</i></p>");
  h += QStringLiteral("<h2>Plots</h2>");
  for (const auto& im : imgs) {
    QString src = im.name;
    if (inline_images) {
      QByteArray png;
      QBuffer buf(&png);
      buf.open(QIODevice::WriteOnly);
      im.img.save(&buf, "PNG");
      src = QStringLiteral("data:image/png;base64,") + QString::fromLatin1(png.toBase64());
    }
    h += QStringLiteral("<p><img src=\"") + src + QStringLiteral("\" width=\"800\"></p>");
  }
  const TopoMatrix t = topology_matrix(run);
  if (!t.names.empty()) {
    h += QStringLiteral("<h2>Topology</h2><table><tr><th></th>");
    for (const auto& n : t.names) h += QStringLiteral("<th>") + esc(n) + QStringLiteral("</th>");
    h += QStringLiteral("</tr>");
    for (std::size_t i = 0; i < t.names.size(); ++i) {
      h += QStringLiteral("<tr><th>") + esc(t.names[i]) + QStringLiteral("</th>");
      for (std::size_t j = 0; j < t.names.size(); ++j) h += QStringLiteral("<td>") + esc(t.code[i][j]) + QStringLiteral("</td>");
      h += QStringLiteral("</tr>");
    }
    h += QStringLiteral("</table>");
  }
  h += QStringLiteral("</body></html>");
  return h;
}

}  // namespace

Expected<void> render_report_qt(const analyzers::RunData& run, const analyzers::AnalysisResult& result,
                                const std::string& format, const std::filesystem::path& out) {
  if (format != "html" && format != "pdf") return Error{"report: unknown format '" + format + "' (html or pdf)"};
  // QCustomPlot is a QWidget: it needs a QApplication. The CLI has none; make one on
  // the offscreen platform for the duration of the call.
  std::unique_ptr<QApplication> own_app;
  if (!QCoreApplication::instance()) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "moetune";
    static char* argv[] = {name, nullptr};
    own_app = std::make_unique<QApplication>(argc, argv);
  } else if (!qobject_cast<QApplication*>(QCoreApplication::instance())) {
    return Error{out.string() + ": cannot render plots without a QApplication"};
  }
  const auto imgs = render_plots(run, result);
  const QString path = QString::fromStdString(out.string());
  if (format == "html") {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return Error{out.string() + ": cannot write"};
    const QByteArray bytes = build_html(run, result, imgs, true).toUtf8();
    if (f.write(bytes) != bytes.size()) return Error{out.string() + ": write failed"};
    return {};
  }
  QTextDocument doc;
  for (const auto& im : imgs) doc.addResource(QTextDocument::ImageResource, QUrl(im.name), im.img);
  doc.setHtml(build_html(run, result, imgs, false));
  {
    QFile probe(path);
    if (!probe.open(QIODevice::WriteOnly | QIODevice::Truncate)) return Error{out.string() + ": cannot write"};
  }
  QPdfWriter writer(path);
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setResolution(110);
  writer.setTitle(QStringLiteral("moetune report"));
  doc.setPageSize(writer.pageLayout().paintRectPixels(writer.resolution()).size());
  doc.print(&writer);
  return {};
}

}  // namespace moetune::ui
