#include "stack/runtime.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

namespace ustack {

Runtime::Runtime(Stack& stack, const Clock& clock) : stack_(stack), clock_(clock) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Runtime::~Runtime() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool Runtime::run() {
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
    int fd = iface->device().fd();
    if (fd >= 0 && !watch(fd)) return false;
  }

  constexpr int kMaxEvents = 16;
  epoll_event events[kMaxEvents];
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    Instant deadline;
    {
      std::lock_guard lock(core_lock_);
      stack_.poll(clock_.now());
      deadline = stack_.next_deadline();
    }
    int timeout_ms = -1;
    if (deadline != kNever) {
      const Duration wait = deadline - clock_.now();
      // Round up: waking a little late is harmless, waking early only spins once more.
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
      timeout_ms = ms <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) return false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
      }
    }
  }
  return true;
}

void Runtime::stop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  wake();
}

void Runtime::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(wake_fd_, &one, sizeof one);
}

}  // namespace ustack
