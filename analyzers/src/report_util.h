// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: the text helpers the HTML page and its SVG plots share.
#pragma once
#include <cstdio>
#include <string>

namespace moetune::analyzers::detail {

// Text safe inside HTML/SVG elements and attribute values.
inline std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

// v with `prec` digits after the point.
inline std::string fixed(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace moetune::analyzers::detail
