// SPDX-License-Identifier: Apache-2.0
// AttachDialog: lists the armed processes of this user (control sockets in
// $XDG_RUNTIME_DIR/moetune or /tmp/moetune-$UID, via moetune::live::list_endpoints),
// shows each one's capture status, and starts/stops capture with the socket
// protocol's "start"/"stop" verbs. With "follow in the timeline" checked, a started
// capture emits captureStarted(pid) so the main window follows the process's part files
// (LiveFollower), and a stop emits captureStopped. Built only when moetune_live exists.
#pragma once
#include <QDialog>

class QCheckBox;
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

 signals:
  void captureStarted(long pid);
  void captureStopped(long pid);

 private:
  QTableWidget* table_;
  QLabel* note_;
  QCheckBox* follow_;
};

}  // namespace moetune::ui
