// A first TCP conversation between two Stacks under a ManualClock: handshake, data both ways,
// orderly close.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

TEST(TcpSmoke, ConnectSendReceiveClose) {
  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
  const int listener = b.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  auto addr = inet(kIpB, 7);
  ASSERT_EQ(b.bind(listener, sa(addr), sizeof addr), 0) << std::strerror(errno);
  ASSERT_EQ(b.listen(listener, 16), 0);

  const int client = a.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(a.connect(client, sa(addr), sizeof addr), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  int server = -1;
  ASSERT_TRUE(pair.run_until(
      [&] { return (server = b.accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; }, 5s));
  pollfd p{client, POLLOUT, 0};
  ASSERT_EQ(a.poll(&p, 1, 0), 1);
  ASSERT_TRUE(p.revents & POLLOUT);

  std::vector<std::uint8_t> data(200000);
  std::iota(data.begin(), data.end(), 0);
  std::size_t sent = 0;
  std::vector<std::uint8_t> got;
  std::uint8_t buf[65536];
  ASSERT_TRUE(pair.run_until(
      [&] {
        if (sent < data.size()) {
          ssize_t n = a.send(client, data.data() + sent, data.size() - sent, 0);
          if (n > 0) sent += static_cast<std::size_t>(n);
        }
        ssize_t n = b.recv(server, buf, sizeof buf, 0);
        if (n > 0) got.insert(got.end(), buf, buf + n);
        return got.size() == data.size();
      },
      30s));
  EXPECT_EQ(got, data);

  ASSERT_EQ(a.close(client), 0);
  ASSERT_TRUE(pair.run_until([&] { return b.recv(server, buf, sizeof buf, 0) == 0; }, 5s));
  ASSERT_EQ(b.close(server), 0);
  pair.run_for(100ms);
  EXPECT_EQ(pair.stack_b().tcp().connection_count(), 0u);
  // A's side waits in TIME-WAIT.
  EXPECT_EQ(pair.stack_a().tcp().connection_count(), 1u);
  pair.run_for(61s, 100ms);
  EXPECT_EQ(pair.stack_a().tcp().connection_count(), 0u);
}

}  // namespace
}  // namespace ustack::test
