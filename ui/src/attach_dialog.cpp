// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/attach_dialog.h"

#ifdef MOETUNE_UI_HAS_LIVE
#include <QCheckBox>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "moetune/live/control.h"

namespace moetune::ui {

AttachDialog::AttachDialog(QWidget* parent)
    : QDialog(parent), table_(new QTableWidget(this)), note_(new QLabel(this)),
      follow_(new QCheckBox(tr("Follow the run in the timeline while it is captured"), this)) {
  follow_->setChecked(true);
  setWindowTitle(tr("Attach to an armed process"));
  resize(720, 360);
  table_->setColumnCount(4);
  table_->setHorizontalHeaderLabels({tr("PID"), tr("Component"), tr("Status"), tr("Socket")});
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  auto* box = new QDialogButtonBox(QDialogButtonBox::Close, this);
  auto* start = box->addButton(tr("Start capture"), QDialogButtonBox::ActionRole);
  auto* stop = box->addButton(tr("Stop capture"), QDialogButtonBox::ActionRole);
  auto* again = box->addButton(tr("Refresh"), QDialogButtonBox::ActionRole);
  connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(again, &QPushButton::clicked, this, &AttachDialog::refresh);
  connect(start, &QPushButton::clicked, this, [this] { note_->setText(send(table_->currentRow(), true)); refresh(); });
  connect(stop, &QPushButton::clicked, this, [this] { note_->setText(send(table_->currentRow(), false)); refresh(); });
  auto* v = new QVBoxLayout(this);
  v->addWidget(table_, 1);
  v->addWidget(follow_);
  v->addWidget(note_);
  v->addWidget(box);
  refresh();
}

int AttachDialog::process_count() const { return table_->rowCount(); }

void AttachDialog::refresh() {
  const auto eps = live::list_endpoints();
  table_->setRowCount(int(eps.size()));
  for (int i = 0; i < int(eps.size()); ++i) {
    const auto& e = eps[std::size_t(i)];
    auto reply = live::control_request(e.path, "status\n", 1000);
    table_->setItem(i, 0, new QTableWidgetItem(QString::number(e.pid)));
    table_->setItem(i, 1, new QTableWidgetItem(QString::fromStdString(e.component)));
    table_->setItem(i, 2, new QTableWidgetItem(QString::fromStdString(reply ? *reply : reply.error().message)));
    table_->setItem(i, 3, new QTableWidgetItem(QString::fromStdString(e.path.string())));
  }
  if (eps.empty()) note_->setText(tr("No armed processes of this user (start one with `moetune record --armed`)."));
}

QString AttachDialog::send(int row, bool start) {
  if (row < 0 || row >= table_->rowCount()) return tr("Select a process first");
  const std::string path = table_->item(row, 3)->text().toStdString();
  auto reply = live::control_request(path, start ? "start\n" : "stop\n", 2000);
  if (reply && reply->rfind("ok", 0) == 0 && follow_->isChecked()) {
    const long pid = table_->item(row, 0)->text().toLong();
    if (start) emit captureStarted(pid);
    else emit captureStopped(pid);
  }
  return QString::fromStdString(reply ? *reply : reply.error().message);
}

}  // namespace moetune::ui
#endif
