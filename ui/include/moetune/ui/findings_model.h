// SPDX-License-Identifier: Apache-2.0
// FindingsModel: a thin table adapter over AnalysisResult::findings (severity, kind,
// title, estimated gain, ranks). Sorted by the view through a proxy; extra data
// through roles: SeverityRole (int, for sorting), FindingIndexRole (row in the result).
#pragma once
#include <QAbstractTableModel>
#include <memory>

#include "moetune/analyzers/model.h"

namespace moetune::ui {

class FindingsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { ColSeverity, ColKind, ColTitle, ColGain, ColRanks, ColCount };
  enum Role { SeverityRole = Qt::UserRole + 1, FindingIndexRole, SortRole };

  explicit FindingsModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}
  void set_result(std::shared_ptr<const analyzers::AnalysisResult> r);
  const analyzers::Finding* finding(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  std::shared_ptr<const analyzers::AnalysisResult> result_;
};

// The detail pane text: the evidence as a table (labelled values with units, see
// analyzers/evidence_format.h), the recommendation with fixes, the gain and its basis.
// With show_raw the evidence JSON follows the table; a link "#raw-json" / "#hide-json"
// toggles it (the pane handles the click).
QString finding_details_html(const analyzers::Finding& f, bool show_raw = false);

}  // namespace moetune::ui
