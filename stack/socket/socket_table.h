// SocketTable: the descriptor table of the socket API — small integers, lowest free first as
// POSIX requires of open() and socket() — and the condition variable that threads blocked in the
// API sleep on. Layers call notify() whenever a socket may have become readable or writable.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "stack/socket/socket.h"

namespace ustack {

class SocketTable {
 public:
  explicit SocketTable(std::size_t limit) : limit_(limit) {}

  // The new descriptor, or -1 when `limit` descriptors are open (EMFILE).
  int add(std::shared_ptr<Socket> socket);
  // Null if fd is not open.
  std::shared_ptr<Socket> get(int fd) const;
  // Removes fd and returns its socket (null if it was not open).
  std::shared_ptr<Socket> remove(int fd);
  std::size_t size() const { return open_; }

  // Wakes the threads blocked in the API so they re-check their condition. Free when nobody
  // waits, which is the usual case on the I/O thread's hot path.
  void notify() {
    if (waiters_ > 0) changed_.notify_all();
  }
  std::condition_variable& changed() { return changed_; }
  int& waiters() { return waiters_; }

 private:
  std::size_t limit_;
  std::size_t open_ = 0;
  std::vector<std::shared_ptr<Socket>> slots_;
  std::priority_queue<int, std::vector<int>, std::greater<>> free_;
  std::condition_variable changed_;
  int waiters_ = 0;
};

}  // namespace ustack
