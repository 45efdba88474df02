// Runtime: the I/O thread of DESIGN.md. It waits with epoll on every device's descriptor and on
// an eventfd, for no longer than the Stack's next deadline, then runs Stack::poll with the core
// lock held. Nothing busy-polls: an idle stack sleeps until a frame or a timer is due.
//
// Three ways to drive it:
//  - run() on a thread of the caller's (ustackd's main thread), until stop();
//  - start(), which runs run() on an I/O thread of its own, for applications whose threads make
//    blocking socket calls;
//  - inline mode, with no I/O thread at all: an application on one thread uses the socket API,
//    and each blocking call (and ustack::poll with a timeout) drives the stack itself through
//    run_once() while it waits.
// Tests with a ManualClock drive it by hand: advance the clock, then poll_now().
//
// The Runtime owns the SocketApi of its Stack and makes it the process default, so that the
// free functions of stack/socket/api.h act on this stack.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "stack/base/time.h"
#include "stack/socket/socket_api.h"
#include "stack/stack.h"

namespace ustack {

class Runtime {
 public:
  Runtime(Stack& stack, const Clock& clock);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs the I/O loop on the calling thread until stop(). Returns false, with errno set, if
  // epoll could not be set up or failed.
  bool run();
  // Runs run() on a new I/O thread. Returns false if epoll could not be set up.
  bool start();
  // Makes run() return soon and, from any thread but the I/O thread, joins it.
  // stop_async() alone is async-signal-safe, so a SIGINT handler may call it.
  void stop();
  void stop_async();

  void set_inline_mode(bool on) { inline_mode_ = on; }
  bool inline_mode() const { return inline_mode_; }
  // Waits for frames until `until` or the stack's next deadline, whichever is first, then polls.
  // Takes the core lock itself; call without it.
  void run_once(Instant until);
  // Polls at the clock's current time and wakes every blocked API call to re-check its
  // condition and deadline. For ManualClock tests.
  void poll_now();

  // Called by the socket API, core lock held, after a call that may have sent frames or armed
  // timers: flushes the devices and wakes the I/O thread if it sleeps past the new deadline.
  void core_changed();
  // Interrupts the I/O thread's wait.
  void wake();
  // Called by the socket API, core lock just taken, by a thread counted in
  // SocketTable::contenders: it got in, and the I/O thread may stop deferring to it.
  void admitted();

  std::mutex& core_lock() { return core_lock_; }
  Stack& stack() { return stack_; }
  const Clock& clock() const { return clock_; }
  SocketApi& api() { return api_; }

 private:
  bool setup();
  int wait_timeout_ms(Instant deadline) const;
  void wait_for_events(int timeout_ms);

  Stack& stack_;
  const Clock& clock_;
  std::mutex core_lock_;
  SocketApi api_;
  std::atomic<bool> stop_requested_{false};
  bool inline_mode_ = false;
  // The deadline the I/O thread sleeps until; written and read with the core lock held.
  Instant sleeping_until_ = kNever;
  // The I/O thread waits here, core lock released, while application threads get in.
  std::condition_variable handoff_;
  bool handing_off_ = false;
  std::uint64_t admissions_ = 0;  // calls admitted by admitted(); core lock held
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread io_thread_;
};

}  // namespace ustack
