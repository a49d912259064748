// SPDX-License-Identifier: Apache-2.0
// AttachDialog: lists the armed processes of this user (control sockets in
// $XDG_RUNTIME_DIR/moetune or /tmp/moetune-$UID, via moetune::live::list_endpoints),
// shows each one's capture status, and starts/stops capture with the socket
// protocol's "start"/"stop" verbs. Built only when the moetune_live library exists.
#pragma once
#include <QDialog>

class QTableWidget;
class QLabel;

namespace moetune::ui {

class AttachDialog : public QDialog {
  Q_OBJECT
 public:
  explicit AttachDialog(QWidget* parent = nullptr);
  int process_count() const;
  // Sends start (true) / stop (false) to the endpoint in `row`; the reply line.
  QString send(int row, bool start);

 public slots:
  void refresh();

 private:
  QTableWidget* table_;
  QLabel* note_;
};

}  // namespace moetune::ui
