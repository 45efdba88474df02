#include "stack/socket/socket_table.h"

namespace ustack {

int SocketTable::add(std::shared_ptr<Socket> socket) {
  if (open_ >= limit_) return -1;
  int fd;
  if (!free_.empty()) {
    fd = free_.top();
    free_.pop();
    slots_[static_cast<std::size_t>(fd)] = std::move(socket);
  } else {
    fd = static_cast<int>(slots_.size());
    slots_.push_back(std::move(socket));
  }
  ++open_;
  return fd;
}

std::shared_ptr<Socket> SocketTable::get(int fd) const {
  if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return nullptr;
  return slots_[static_cast<std::size_t>(fd)];
}

namespace {

void erase_one(std::vector<Waiter*>& list, Waiter* w) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] == w) {
      list[i] = list.back();
      list.pop_back();
      return;
    }
  }
}

}  // namespace

void SocketTable::add_waiter(Waiter& w, std::span<Socket* const> on) {
  waiters_.push_back(&w);
  for (Socket* s : on) s->waiters.push_back(&w);
}

void SocketTable::remove_waiter(Waiter& w, std::span<Socket* const> on) {
  erase_one(waiters_, &w);
  for (Socket* s : on) erase_one(s->waiters, &w);
}

std::shared_ptr<Socket> SocketTable::remove(int fd) {
  auto socket = get(fd);
  if (!socket) return nullptr;
  slots_[static_cast<std::size_t>(fd)].reset();
  free_.push(fd);
  --open_;
  return socket;
}

}  // namespace ustack
