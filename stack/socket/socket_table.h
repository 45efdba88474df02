// SocketTable: the descriptor table of the socket API — small integers, lowest free first as
// POSIX requires of open() and socket() — and the registry of the threads blocked in the API.
// Layers call notify(socket) whenever that socket may have become readable or writable (or, for
// a listener, acceptable); only the threads waiting on it wake.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <queue>
#include <span>
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
  // The same without touching the reference count, for poll's scan of many descriptors.
  Socket* find(int fd) const {
    if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return nullptr;
    return slots_[static_cast<std::size_t>(fd)].get();
  }
  // Removes fd and returns its socket (null if it was not open).
  std::shared_ptr<Socket> remove(int fd);
  std::size_t size() const { return open_; }

  // Wakes the threads blocked on `socket` so they re-check their condition. Free when nobody
  // waits on it, which is the usual case on the I/O thread's hot path.
  void notify(const Socket& socket) {
    for (Waiter* w : socket.waiters) wake(*w);
  }
  // Wakes every blocked thread: after a ManualClock moved, every deadline needs a look.
  void notify_all() {
    for (Waiter* w : waiters_) wake(*w);
  }
  // A thread about to block registers with the table and with each socket it waits on, and
  // unregisters before it returns (core lock held throughout).
  void add_waiter(Waiter& w, std::span<Socket* const> on);
  void remove_waiter(Waiter& w, std::span<Socket* const> on);
  // Threads blocked in the API now.
  int waiters() const { return static_cast<int>(waiters_.size()); }
  // Wakeups delivered to blocked threads so far (tests count them).
  std::uint64_t wakeups() const { return wakeups_; }

  // Application threads that want the core lock: entering a call, or woken from a wait and not
  // yet running. The I/O thread lets them in before it polls again (Runtime::run); read
  // without the lock.
  std::atomic<int>& contenders() { return contenders_; }

 private:
  std::size_t limit_;
  std::size_t open_ = 0;
  std::vector<std::shared_ptr<Socket>> slots_;
  std::priority_queue<int, std::vector<int>, std::greater<>> free_;
  void wake(Waiter& w) {
    w.wake.notify_one();
    ++wakeups_;
    if (!w.notified) {
      w.notified = true;
      ++contenders_;
    }
  }

  std::vector<Waiter*> waiters_;
  std::uint64_t wakeups_ = 0;
  std::atomic<int> contenders_{0};
};

}  // namespace ustack
