// SPDX-License-Identifier: Apache-2.0
// Screenshot test: imports a real trace from ../shared/data with the moetune CLI,
// runs the real moetune-gui under Xvfb (xvfb-run -a) with --screenshot, and checks
// the image is not blank: gray-level variance and the number of distinct colours.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <set>

#include "fixtures.h"

class GuiScreenshotTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  static bool run(const QString& prog, const QStringList& args, QString* out = nullptr) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(prog, args);
    if (!p.waitForFinished(240000)) return false;
    if (out) *out = QString::fromLocal8Bit(p.readAll());
    return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
  }

  void check_image(const QString& png) {
    QImage img(png);
    QVERIFY2(!img.isNull(), qPrintable(png));
    QVERIFY(img.width() >= 800 && img.height() >= 600);
    double sum = 0, sum2 = 0;
    std::set<QRgb> colours;
    const int step = 3;
    std::size_t n = 0;
    for (int y = 0; y < img.height(); y += step) {
      for (int x = 0; x < img.width(); x += step) {
        const QRgb c = img.pixel(x, y);
        const double g = qGray(c);
        sum += g;
        sum2 += g * g;
        colours.insert(c);
        ++n;
      }
    }
    const double mean = sum / double(n);
    const double var = sum2 / double(n) - mean * mean;
    qInfo("%s: gray variance %.1f, %zu colours", qPrintable(png), var, colours.size());
    QVERIFY2(var > 100, "image looks blank");
    QVERIFY2(colours.size() > 30, "too few colours: no timeline drawn");
  }

  // The real moetune-gui under Xvfb saves `view` of `runf` as `png`, which must not look
  // blank (also copied into $MOETUNE_KEEP_SCREENSHOTS when that is set).
  void screenshot(const QString& runf, const QString& view, const QString& png) {
    QString log;
    QVERIFY2(run(qEnvironmentVariable("XVFB_RUN", QStringLiteral("xvfb-run")),
                 {QStringLiteral("-a"), QStringLiteral("-s"), QStringLiteral("-screen 0 1920x1200x24"),
                  QStringLiteral(MOETUNE_GUI), QStringLiteral("--screenshot"), png, QStringLiteral("--view"), view, runf},
                 &log),
             qPrintable(log));
    check_image(png);
    if (!qEnvironmentVariableIsEmpty("MOETUNE_KEEP_SCREENSHOTS"))
      QFile::copy(png, qEnvironmentVariable("MOETUNE_KEEP_SCREENSHOTS") + QLatin1Char('/') + QFileInfo(png).fileName());
  }

 private slots:
  void real_trace_under_xvfb_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("view");
    const QString d = QStringLiteral(MOETUNE_SHARED_DATA);
    QTest::newRow("kineto timeline") << d + QStringLiteral("/external/kineto/hta_nccl_data_rank0of2.json.gz") << QStringLiteral("timeline");
    QTest::newRow("nsys timeline") << d + QStringLiteral("/external/nsys/nsys_ai_mfu_2gpu_before.sqlite") << QStringLiteral("timeline");
    QTest::newRow("nsys findings") << d + QStringLiteral("/external/nsys/nsys_ai_mfu_2gpu_before.sqlite") << QStringLiteral("findings");
  }
  void real_trace_under_xvfb() {
    QFETCH(QString, input);
    QFETCH(QString, view);
    const QString runf = dir_.filePath(QFileInfo(input).baseName() + QStringLiteral(".moetune"));
    QString log;
    if (!QFileInfo::exists(runf) &&
        !run(QStringLiteral(MOETUNE_CLI), {QStringLiteral("import"), input, QStringLiteral("-o"), runf}, &log))
      QSKIP(qPrintable(QStringLiteral("importer cannot read this file yet: ") + log.trimmed()));
    screenshot(runf, view, dir_.filePath(QFileInfo(input).baseName() + QLatin1Char('_') + view + QStringLiteral(".png")));
  }
  void synth_run_all_views() {
    const QString runf = moetune::test::make_synth_run(dir_, "synth.moetune", 4, 8, "hot_experts_slow_rank,straggler:1");
    QVERIFY(!runf.isEmpty());
    for (const QString& view : {QStringLiteral("timeline"), QStringLiteral("experts"), QStringLiteral("replay")})
      screenshot(runf, view, dir_.filePath(QStringLiteral("synth_") + view + QStringLiteral(".png")));
  }
  // A raw nsys export given straight to moetune-gui: imported into a cache beside it,
  // then shown (the Time tab with the per-rank buckets).
  void raw_trace_opened_directly() {
    const QString raw = dir_.filePath(QStringLiteral("raw_2gpu.sqlite"));
    QVERIFY(QFile::copy(QStringLiteral(MOETUNE_SHARED_DATA "/external/nsys/nsys_ai_mfu_2gpu_before.sqlite"), raw));
    screenshot(raw, QStringLiteral("time"), dir_.filePath(QStringLiteral("raw_2gpu_time.png")));
    QVERIFY(QFileInfo::exists(raw + QStringLiteral(".moetune")));
  }
  void bad_input_exits_2() {
    const QString f = dir_.filePath(QStringLiteral("junk.moetune"));
    QVERIFY(moetune::test::write_file(f, "junk"));
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(MOETUNE_GUI), {QStringLiteral("--screenshot"), dir_.filePath(QStringLiteral("x.png")), f});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 2);
    const QString out = QString::fromLocal8Bit(p.readAll());
    QVERIFY2(out.contains(f), qPrintable(out));
  }
  // Issue 16: the screenshot never writes through a symlink at OUT, and a failed save
  // (a name with no image format) leaves an existing file as it was.
  void screenshot_output_is_replaced_never_followed() {
    const QString runf = moetune::test::make_synth_run(dir_, "shot.moetune", 2, 4, "");
    QVERIFY(!runf.isEmpty());
    const QString victim = dir_.filePath(QStringLiteral("victim.txt")), notes = dir_.filePath(QStringLiteral("notes.txt"));
    for (const QString& f : {victim, notes}) QVERIFY(moetune::test::write_file(f, "precious\n"));
    const QString link = dir_.filePath(QStringLiteral("shot.png"));
    QVERIFY(QFile::link(victim, link));
    auto shot = [&](const QString& out) {
      QProcess p;
      p.setProcessChannelMode(QProcess::MergedChannels);
      QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
      env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
      p.setProcessEnvironment(env);
      p.start(QStringLiteral(MOETUNE_GUI), {QStringLiteral("--screenshot"), out, runf});
      p.waitForFinished(120000);
      return p.exitCode();
    };
    QCOMPARE(shot(link), 0);
    QVERIFY(!QFileInfo(link).isSymLink());
    QCOMPARE(QImage(link).isNull(), false);
    auto content = [](const QString& f) {
      QFile v(f);
      return v.open(QIODevice::ReadOnly) ? v.readAll() : QByteArray();
    };
    QCOMPARE(content(victim), QByteArray("precious\n"));
    QCOMPARE(shot(notes), 2);
    QCOMPARE(content(notes), QByteArray("precious\n"));
  }
};

QTEST_GUILESS_MAIN(GuiScreenshotTest)  // the GUI runs in the child under Xvfb
#include "gui_screenshot_test.moc"
