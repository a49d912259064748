// SPDX-License-Identifier: Apache-2.0
// The Qt front end of the report: the analyzers' HTML (one renderer, one model) with
// the plots drawn by QCustomPlot as PNGs, laid out as PDF, or the PNGs alone.
#include "moetune/ui/qcp.h"  // first: see qcp.h
#include "moetune/ui/report_qt.h"

#include <QApplication>
#include <QBuffer>
#include <QFile>
#include <QPdfWriter>
#include <QTextDocument>
#include <memory>

#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"
#include "moetune/ui/plot_builders.h"

namespace moetune::ui {

namespace {

struct Image {
  std::string id;
  QImage img;
};

// Renders every plot of the report model offscreen (the ids and order of
// analyzers::report_plots, which the HTML renderer follows).
std::vector<Image> render_plots(const analyzers::RunData& run, const analyzers::AnalysisResult& r) {
  std::vector<Image> out;
  for (const auto& spec : analyzers::report_plots(run, r)) {
    QCustomPlot plot;
    plot.resize(900, 380);
    if (spec.id == "step_time") build_step_time_plot(&plot, run);
    else if (spec.id == "comm_ratio") build_comm_ratio_plot(&plot, r);
    else if (spec.id == "busbw") build_busbw_plot(&plot, r);
    else if (spec.layer >= 0) build_expert_heatmap(&plot, run, &r, spec.layer);
    else continue;
    out.push_back({spec.id, plot.toPixmap(900, 380).toImage()});
  }
  return out;
}

QString png_data_uri(const QImage& img) {
  QByteArray png;
  QBuffer buf(&png);
  buf.open(QIODevice::WriteOnly);
  img.save(&buf, "PNG");
  return QStringLiteral("data:image/png;base64,") + QString::fromLatin1(png.toBase64());
}

}  // namespace

Expected<void> render_report_qt(const analyzers::RunData& run, const analyzers::AnalysisResult& result,
                                const std::string& format, const std::filesystem::path& out) {
  if (format != "html" && format != "pdf" && format != "png")
    return Error{"report: unknown format '" + format + "' (html, pdf or png)"};
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
  if (format == "png") {  // one PNG per plot into the directory `out`
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) return Error{out.string() + ": cannot create directory: " + ec.message()};
    for (const auto& im : imgs) {
      const auto file = out / (im.id + ".png");
      if (!im.img.save(QString::fromStdString(file.string()), "PNG")) return Error{file.string() + ": cannot write"};
    }
    return {};
  }
  // The one HTML renderer (analyzers::report_html) with the plots as PNGs: inline data
  // URIs for HTML, document resources for the PDF layout (QTextDocument draws no SVG).
  analyzers::HtmlOptions opts;
  opts.svg = false;
  opts.evidence = format == "html";  // a PDF page cannot fold it away
  for (const auto& im : imgs)
    opts.plot_images[im.id] = format == "html" ? png_data_uri(im.img).toStdString() : im.id + ".png";
  const QString html = QString::fromStdString(analyzers::report_html(run, result, opts));
  if (format == "html") {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return Error{out.string() + ": cannot write"};
    const QByteArray bytes = html.toUtf8();
    if (f.write(bytes) != bytes.size()) return Error{out.string() + ": write failed"};
    return {};
  }
  QTextDocument doc;
  for (const auto& im : imgs)
    doc.addResource(QTextDocument::ImageResource, QUrl(QString::fromStdString(im.id + ".png")), im.img);
  doc.setHtml(html);
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
