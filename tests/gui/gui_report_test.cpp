// SPDX-License-Identifier: Apache-2.0
// Report layout: renders the Qt front end of the report (moetune_report_qt: the analyzers'
// HTML with QCustomPlot PNGs) of a synth run with injected
// pathologies as PDF and HTML and checks the PDF's structure with poppler-utils:
// more than one page, the section titles in order, every finding's title, and as many
// images as the HTML report embeds plots (each plot made it into the PDF).
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "fixtures.h"
#include "moetune/ui/report_qt.h"

using namespace moetune;

namespace {

QString run_tool(const QString& tool, const QStringList& args, bool* ok) {
  QProcess p;
  p.start(tool, args);
  *ok = p.waitForFinished(60000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
  return QString::fromUtf8(p.readAllStandardOutput());
}

// Whitespace collapsed and ligatures unfolded, so wrapped lines compare as text.
QString flat(const QString& s) {
  return s.normalized(QString::NormalizationForm_KC).simplified();
}

}  // namespace

class GuiReportTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void pdf_report_structure() {
    const QString pdftotext = QStandardPaths::findExecutable(QStringLiteral("pdftotext"));
    const QString pdfinfo = QStandardPaths::findExecutable(QStringLiteral("pdfinfo"));
    const QString pdfimages = QStandardPaths::findExecutable(QStringLiteral("pdfimages"));
    if (pdftotext.isEmpty() || pdfinfo.isEmpty() || pdfimages.isEmpty())
      QSKIP("poppler-utils (pdftotext, pdfinfo, pdfimages) not installed: scripts/setup-deps.sh installs it");
    const QString run = test::make_synth_run(dir_, "report.moetune", 4, 8, "straggler:2,gpu_idle:0");
    QVERIFY(!run.isEmpty());
    auto data = analyzers::RunData::load(run.toStdString());
    QVERIFY(data.ok());
    const auto result = analyzers::analyze(*data);
    QVERIFY2(!result.findings.empty(), "the injected pathologies must give findings");

    const QString pdf = dir_.filePath(QStringLiteral("report.pdf"));
    const QString html = dir_.filePath(QStringLiteral("report.html"));
    auto r = ui::render_report_qt(*data, result, "pdf", pdf.toStdString());
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    r = ui::render_report_qt(*data, result, "html", html.toStdString());
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());

    bool ok = false;
    const QString info = run_tool(pdfinfo, {pdf}, &ok);
    QVERIFY2(ok, qPrintable(info));
    const auto pages = QRegularExpression(QStringLiteral("Pages:\\s+(\\d+)")).match(info);
    QVERIFY2(pages.hasMatch(), qPrintable(info));
    QVERIFY2(pages.captured(1).toInt() > 1, qPrintable(info));
    QVERIFY(info.contains(QStringLiteral("moetune report")));  // document title

    const QString text = flat(run_tool(pdftotext, {pdf, QStringLiteral("-")}, &ok));
    QVERIFY(ok);
    qsizetype at = -1;
    // the analyzers' one HTML renderer, laid out by Qt with QCustomPlot PNGs
    const QStringList sections = {QStringLiteral("moetune report"), QStringLiteral("Summary"), QStringLiteral("Ranks"),
                                  QStringLiteral("Per rank"),
                                  QStringLiteral("Findings and recommendations (%1)").arg(result.findings.size()),
                                  QStringLiteral("Plots"), QStringLiteral("Topology"), QStringLiteral("Trace health")};
    for (const QString& s : sections) {  // present, and in this order
      const qsizetype i = text.indexOf(s, at + 1);
      QVERIFY2(i > at, qPrintable(QStringLiteral("section '%1' missing or out of order").arg(s)));
      at = i;
    }
    for (const auto& f : result.findings)
      QVERIFY2(text.contains(flat(QString::fromStdString(f.title))), f.title.c_str());

    QFile h(html);
    QVERIFY(h.open(QIODevice::ReadOnly));
    const qsizetype plots = QString::fromUtf8(h.readAll()).count(QStringLiteral("data:image/png;base64,"));
    QVERIFY(plots >= 3);  // step time, comm ratio, bus bandwidth, expert heatmaps
    const QString list = run_tool(pdfimages, {QStringLiteral("-list"), pdf}, &ok);
    QVERIFY(ok);
    qsizetype images = 0;  // rows of type "image" (soft masks are listed separately)
    for (const QString& line : list.split(QLatin1Char('\n')))
      if (line.simplified().split(QLatin1Char(' ')).value(2) == QLatin1String("image")) ++images;
    QVERIFY2(images == plots, qPrintable(list));
  }
};

QTEST_MAIN(GuiReportTest)
#include "gui_report_test.moc"
