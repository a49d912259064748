// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/findings_model.h"

#include <QBrush>
#include <QColor>

#include "moetune/analyzers/evidence_format.h"

namespace moetune::ui {

void FindingsModel::set_result(std::shared_ptr<const analyzers::AnalysisResult> r) {
  beginResetModel();
  result_ = std::move(r);
  endResetModel();
}

const analyzers::Finding* FindingsModel::finding(int row) const {
  if (!result_ || row < 0 || row >= int(result_->findings.size())) return nullptr;
  return &result_->findings[std::size_t(row)];
}

int FindingsModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() || !result_) return 0;
  return int(result_->findings.size());
}

int FindingsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColCount; }

QVariant FindingsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.model() != this) return {};
  const auto* f = finding(index.row());
  if (!f) return {};
  if (role == SeverityRole) return int(f->severity);
  if (role == FindingIndexRole) return index.row();
  if (role == Qt::DisplayRole || role == SortRole) {
    switch (index.column()) {
      case ColSeverity: return role == SortRole ? QVariant(int(f->severity)) : QVariant(QLatin1String(to_string(f->severity)));
      case ColKind: return QLatin1String(to_string(f->kind));
      case ColTitle: return QString::fromStdString(f->title);
      case ColGain:
        return role == SortRole ? QVariant(f->estimated_gain_pct)
                                : QVariant(QString::number(f->estimated_gain_pct, 'f', 1) + QStringLiteral(" %"));
      case ColRanks: {
        QStringList r;
        for (int x : f->ranks) r << QString::number(x);
        return r.join(QLatin1Char(','));
      }
      default: return {};
    }
  }
  if (role == Qt::BackgroundRole && index.column() == ColSeverity) {
    switch (f->severity) {
      case analyzers::FindingSeverity::Critical: return QBrush(QColor(244, 67, 54));
      case analyzers::FindingSeverity::High: return QBrush(QColor(255, 152, 0));
      case analyzers::FindingSeverity::Medium: return QBrush(QColor(255, 235, 59));
      case analyzers::FindingSeverity::Low: return QBrush(QColor(200, 230, 201));
    }
  }
  if (role == Qt::TextAlignmentRole && index.column() == ColGain) return int(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ToolTipRole) return QString::fromStdString(f->recommendation.text);
  return {};
}

QVariant FindingsModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case ColSeverity: return tr("Severity");
    case ColKind: return tr("Kind");
    case ColTitle: return tr("Finding");
    case ColGain: return tr("Est. gain");
    case ColRanks: return tr("Ranks");
    default: return {};
  }
}

QString finding_details_html(const analyzers::Finding& f, bool show_raw) {
  auto esc = [](const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); };
  QString h = QStringLiteral("<h3>") + esc(f.title) + QStringLiteral("</h3><p><b>") +
              QLatin1String(to_string(f.severity)) + QStringLiteral("</b> · ") + QLatin1String(to_string(f.kind)) +
              QStringLiteral(" · estimated gain ") + QString::number(f.estimated_gain_pct, 'f', 1) +
              QStringLiteral(" %</p>");
  if (!f.gain_basis.empty()) h += QStringLiteral("<p><i>") + esc(f.gain_basis) + QStringLiteral("</i></p>");
  h += QStringLiteral("<h4>Evidence</h4><table cellspacing=\"0\" cellpadding=\"2\">");
  for (const auto& row : analyzers::evidence_rows(f.evidence))
    h += QStringLiteral("<tr><td>") + esc(row.label) + QStringLiteral("</td><td align=\"right\"><b>") + esc(row.value) +
         QStringLiteral("</b></td></tr>");
  h += QStringLiteral("</table>");
  if (show_raw)
    h += QStringLiteral("<p><a href=\"#hide-json\">Hide raw JSON</a></p><pre>") + esc(f.evidence.dump(1)) +
         QStringLiteral("</pre>");
  else
    h += QStringLiteral("<p><a href=\"#raw-json\">Raw JSON</a></p>");
  h += QStringLiteral("<h4>Recommendation</h4><p>") + esc(f.recommendation.text) + QStringLiteral("</p><ul>");
  for (const auto& fx : f.recommendation.fixes)
    h += QStringLiteral("<li><b>") + esc(fx.type) + QStringLiteral("</b> <code>") + esc(fx.body.dump()) +
         QStringLiteral("</code></li>");
  h += QStringLiteral("</ul>");
  if (!f.time_ranges.empty())
    h += QStringLiteral("<p>") + QString::number(f.time_ranges.size()) + QStringLiteral(" time range(s)</p>");
  return h;
}

}  // namespace moetune::ui
