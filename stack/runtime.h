// Runtime: the I/O thread of DESIGN.md. It waits with epoll on every device's descriptor and on
// an eventfd, for no longer than the Stack's next deadline, then runs Stack::poll with the core
// lock held. Nothing busy-polls: an idle stack sleeps until a frame or a timer is due.
//
// Application threads (the socket API, a later layer) take core_lock() for each call and wake()
// the I/O thread when they changed what it should wait for.
#pragma once

#include <atomic>
#include <mutex>

#include "stack/base/time.h"
#include "stack/stack.h"

namespace ustack {

class Runtime {
 public:
  Runtime(Stack& stack, const Clock& clock);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs the I/O loop on the calling thread until stop(). Returns false, with errno set, if
  // epoll could not be set up.
  bool run();
  // Makes run() return soon. Async-signal-safe, so a SIGINT handler may call it.
  void stop();
  // Interrupts the wait so that the I/O thread polls and recomputes its deadline.
  void wake();

  std::mutex& core_lock() { return core_lock_; }
  Stack& stack() { return stack_; }
  const Clock& clock() const { return clock_; }

 private:
  Stack& stack_;
  const Clock& clock_;
  std::mutex core_lock_;
  std::atomic<bool> stop_requested_{false};
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
};

}  // namespace ustack
