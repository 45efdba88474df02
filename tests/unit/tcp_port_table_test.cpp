// PortTable: which sockets hold a local port, which of them listen, and whether a new bind
// conflicts. A busy listener's port is held by every connection accepted on it; the listener
// lookup each SYN makes must find the listener among them, and sockets leaving must unlink
// wherever they sit in the port's list.
#include "stack/tcp/port_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "stack/tcp/tcp.h"

namespace ustack::tcp {
namespace {

const Ipv4Address kLocal{10, 0, 0, 2};
const Ipv4Address kOther{10, 0, 0, 3};
const Ipv4Address kAny{};

std::shared_ptr<TcpSocket> holder(Ipv4Address address, std::uint16_t port) {
  auto s = std::make_shared<TcpSocket>();
  s->local = {address, port};
  return s;
}

void listen_on(PortTable& table, TcpSocket& s) {
  s.tcb.state = TcpState::listen;
  table.add_listener(s);
}

TEST(PortTable, FindsTheListenerAmongManyConnectionsOnItsPort) {
  PortTable table;
  auto listener = holder(kAny, 80);
  table.add(*listener);
  listen_on(table, *listener);
  std::vector<std::shared_ptr<TcpSocket>> children;
  for (int i = 0; i < 1000; ++i) {
    children.push_back(holder(kLocal, 80));
    children.back()->tcb.state = TcpState::established;
    table.add(*children.back());
  }
  EXPECT_EQ(table.listener({kLocal, 80}), listener.get());
  EXPECT_EQ(table.listener({kLocal, 81}), nullptr);
  EXPECT_EQ(table.ports(), 1u);
}

TEST(PortTable, AnAddressListenerWinsOverTheWildcard) {
  PortTable table;
  auto wildcard = holder(kAny, 80);
  auto specific = holder(kLocal, 80);
  table.add(*wildcard);
  listen_on(table, *wildcard);
  table.add(*specific);
  listen_on(table, *specific);
  EXPECT_EQ(table.listener({kLocal, 80}), specific.get());
  EXPECT_EQ(table.listener({kOther, 80}), wildcard.get());
  EXPECT_FALSE(table.has_other_listener(*specific));
}

TEST(PortTable, ASocketThatStoppedListeningIsNoListener) {
  PortTable table;
  auto s = holder(kAny, 80);
  table.add(*s);
  listen_on(table, *s);
  s->tcb.state = TcpState::closed;  // shutdown of a listener
  EXPECT_EQ(table.listener({kLocal, 80}), nullptr);
  listen_on(table, *s);  // listening again does not list it twice
  table.remove(*s);
  EXPECT_EQ(table.listener({kLocal, 80}), nullptr);
  EXPECT_EQ(table.ports(), 0u);
}

TEST(PortTable, RemovesFromTheHeadTheMiddleAndTheTail) {
  PortTable table;
  auto a = holder(kLocal, 5000);
  auto b = holder(kLocal, 5000);
  auto c = holder(kLocal, 5000);
  for (auto* s : {a.get(), b.get(), c.get()}) table.add(*s);
  table.remove(*b);  // middle
  EXPECT_TRUE(table.in_use(kLocal, 5000, false));
  table.remove(*c);  // head (added last)
  table.remove(*a);  // the last one
  EXPECT_FALSE(table.in_use(kLocal, 5000, false));
  EXPECT_EQ(table.ports(), 0u);
  table.remove(*a);  // a socket holding nothing: no effect
  table.add(*b);     // and a removed socket can hold a port again
  EXPECT_TRUE(table.in_use(kAny, 5000, false));
}

TEST(PortTable, BindConflictsFollowAddressesAndReuse) {
  PortTable table;
  auto conn = holder(kLocal, 80);
  conn->tcb.state = TcpState::time_wait;
  conn->reuse_address = true;
  table.add(*conn);
  // Another address on the same port does not overlap a specific one; the wildcard does.
  EXPECT_FALSE(table.in_use(kOther, 80, false));
  EXPECT_TRUE(table.in_use(kAny, 80, false));
  // SO_REUSEADDR on both: a lingering connection is no conflict (a server restarting).
  EXPECT_FALSE(table.in_use(kAny, 80, true));
  conn->reuse_address = false;
  EXPECT_TRUE(table.in_use(kAny, 80, true));
  // Never next to a listener, reuse or not.
  auto listener = holder(kAny, 80);
  listener->reuse_address = true;
  conn->reuse_address = true;
  table.add(*listener);
  listen_on(table, *listener);
  EXPECT_TRUE(table.in_use(kLocal, 80, true));
}

}  // namespace
}  // namespace ustack::tcp
