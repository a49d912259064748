// SPDX-License-Identifier: Apache-2.0
#include "fixtures.h"

#include <QtTest>

#include "moetune/synth/synth.h"

namespace {
// Every GUI test keeps its settings (recent files, window layout) and import caches in a
// temporary folder, never in the user's: set before QApplication reads them.
struct TempSettings {
  QTemporaryDir dir;
  TempSettings() {
    if (!dir.isValid()) return;
    qputenv("XDG_CONFIG_HOME", dir.filePath(QStringLiteral("config")).toUtf8());
    qputenv("XDG_CACHE_HOME", dir.filePath(QStringLiteral("cache")).toUtf8());
  }
} temp_settings;
}  // namespace

namespace moetune::test {

QString make_synth_run(const QTemporaryDir& dir, const std::string& name, int ranks, int steps,
                       const std::string& inject, std::int64_t events) {
  synth::Options o;
  o.ranks = ranks;
  o.steps = steps;
  o.inject = inject;
  o.events = events;
  const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
  auto r = synth::generate_file(path, o, true);
  if (!r) {
    qWarning("synth failed: %s", r.error().message.c_str());
    return {};
  }
  return QString::fromStdString(path);
}

}  // namespace moetune::test
