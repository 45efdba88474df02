#include "stack/runtime.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

namespace ustack {

namespace {
// The longest the I/O thread defers to application threads before it polls anyway.
constexpr auto kHandoffLimit = std::chrono::milliseconds(5);
}  // namespace

Runtime::Runtime(Stack& stack, const Clock& clock) : stack_(stack), clock_(clock), api_(*this) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  set_default_socket_api(&api_);
}

Runtime::~Runtime() {
  stop();
  if (default_socket_api() == &api_) set_default_socket_api(nullptr);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool Runtime::setup() {
  if (epoll_fd_ >= 0) return true;
  if (wake_fd_ < 0) return false;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return false;
  auto watch = [this](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (!watch(wake_fd_)) return false;
  for (auto& iface : stack_.interfaces()) {
    const int fd = iface->device().fd();
    if (fd >= 0 && !watch(fd)) return false;
  }
  return true;
}

int Runtime::wait_timeout_ms(Instant deadline) const {
  if (deadline == kNever) return -1;
  if (clock_.is_manual()) return 0;  // virtual time does not pass while we sleep
  const Duration wait = deadline - clock_.now();
  // Round up: waking a little late is harmless, waking early only loops once more.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

void Runtime::wait_for_events(int timeout_ms) {
  constexpr int kMaxEvents = 16;
  epoll_event events[kMaxEvents];
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wake_fd_) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
    }
  }
}

bool Runtime::run() {
  if (!setup()) return false;
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    int timeout_ms;
    {
      std::unique_lock lock(core_lock_);
      // Application threads first. A thread woken by the last poll (or entering a call) sleeps
      // on the core lock, and a mutex is not fair: the I/O thread, back from epoll at once
      // while frames keep coming, would take the lock again before that thread is even
      // scheduled, again and again, so that a service fell behind its accept queue (each drop
      // a peer's 1 s SYN retransmission) while the stack kept completing handshakes for it.
      // Only the threads waiting now, one call each, so that a thread making call after call
      // cannot hold the stack off in turn; and bounded, so that a thread that does not get a
      // CPU cannot stall it either.
      if (const int waiting = stack_.sockets().contenders().load(); waiting > 0) {
        const std::uint64_t enough = admissions_ + static_cast<std::uint64_t>(waiting);
        handing_off_ = true;
        handoff_.wait_for(lock, kHandoffLimit, [&] {
          return admissions_ >= enough || stack_.sockets().contenders().load() <= 0;
        });
        handing_off_ = false;
      }
      stack_.poll(clock_.now());
      sleeping_until_ = stack_.next_deadline();
      timeout_ms = wait_timeout_ms(sleeping_until_);
    }
    wait_for_events(timeout_ms);
  }
  return true;
}

bool Runtime::start() {
  if (!setup()) return false;
  stop_requested_ = false;
  io_thread_ = std::thread([this] { run(); });
  return true;
}

void Runtime::stop_async() {
  stop_requested_.store(true, std::memory_order_relaxed);
  wake();
}

void Runtime::stop() {
  stop_async();
  if (io_thread_.joinable() && io_thread_.get_id() != std::this_thread::get_id()) {
    io_thread_.join();
  }
}

void Runtime::run_once(Instant until) {
  if (!setup()) return;
  int timeout_ms;
  {
    std::lock_guard lock(core_lock_);
    // No poll before the wait: work already waiting ends the wait at once (frames keep the
    // device fds readable, a due timer makes the timeout 0), whereas polling first could take
    // the very datagram the caller waits for and then sleep until `until` regardless.
    timeout_ms = wait_timeout_ms(std::min(until, stack_.next_deadline()));
  }
  wait_for_events(timeout_ms);
  std::lock_guard lock(core_lock_);
  stack_.poll(clock_.now());
}

void Runtime::poll_now() {
  std::lock_guard lock(core_lock_);
  stack_.poll(clock_.now());
  // Deadlines of blocked calls are measured on the clock that just moved.
  stack_.sockets().notify_all();
}

void Runtime::core_changed() {
  stack_.flush_devices();
  if (stack_.next_deadline() < sleeping_until_) wake();
}

void Runtime::admitted() {
  --stack_.sockets().contenders();
  ++admissions_;
  if (handing_off_) handoff_.notify_one();
}

void Runtime::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(wake_fd_, &one, sizeof one);
}

}  // namespace ustack
