// SPDX-License-Identifier: Apache-2.0
// Test fixtures: small runs written by the synth library (deterministic cluster model).
#pragma once
#include <QString>
#include <cstdint>
#include <QTemporaryDir>
#include <string>

namespace moetune::test {

// Writes a synth run into `dir` and returns its path ("" on failure, with a QWARN).
QString make_synth_run(const QTemporaryDir& dir, const std::string& name, int ranks, int steps,
                       const std::string& inject = {}, std::int64_t events = 0);

}  // namespace moetune::test
