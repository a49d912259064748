// SPDX-License-Identifier: Apache-2.0
// Include QCustomPlot through this header, FIRST in a translation unit (before any Qt
// header): qcustomplot.h 2.1 uses `foreach` inside inline templates, which does not
// compile under QT_NO_FOREACH. Our own code in those files uses range-for only.
#pragma once
#ifdef QT_NO_FOREACH
#undef QT_NO_FOREACH
#endif
#include <qcustomplot.h>
