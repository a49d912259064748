// SPDX-License-Identifier: Apache-2.0
// Test fixtures: small runs written by the synth library (deterministic cluster model),
// and files of given bytes.
#pragma once
#include <QByteArray>
#include <QFile>
#include <QString>
#include <cstdint>
#include <QTemporaryDir>
#include <string>

namespace moetune::test {

// Writes a synth run into `dir` and returns its path ("" on failure, with a QWARN).
QString make_synth_run(const QTemporaryDir& dir, const std::string& name, int ranks, int steps,
                       const std::string& inject = {}, std::int64_t events = 0);

// Writes `bytes` to `path`, replacing it; false when it cannot be written.
inline bool write_file(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

}  // namespace moetune::test
