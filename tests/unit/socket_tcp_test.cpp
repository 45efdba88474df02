// The TCP side of the socket API, call by call and state by state: every return value, errno and
// poll mask here was first observed on a Linux 6.18 kernel (a Python client over loopback and a
// veth inside a network namespace), and ustack must give the same. The comments marked "Linux:"
// record where the kernel's answer is surprising.
//
// Two stacks over a MemoryLink, A (10.1.0.1) and B (10.1.0.2), in ManualClock time; the sockets
// do not block and the test steps both stacks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <cstring>
#include <string>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};
// On A's subnet, but nobody answers ARP for it.
constexpr Ipv4Address kSilent{10, 1, 0, 99};
constexpr std::uint16_t kPort = 7000;

// A poll mask as "IN|OUT|ERR|HUP|RDHUP" (in that order), so failures read like the kernel notes.
std::string mask_name(short m) {
  std::string out;
  for (auto [bit, name] :
       {std::pair{POLLIN, "IN"}, std::pair{POLLOUT, "OUT"}, std::pair{POLLERR, "ERR"},
        std::pair{POLLHUP, "HUP"}, std::pair{POLLRDHUP, "RDHUP"}, std::pair{POLLPRI, "PRI"},
        std::pair{POLLNVAL, "NVAL"}}) {
    if ((m & bit) == 0) continue;
    if (!out.empty()) out += "|";
    out += name;
  }
  return out.empty() ? "0" : out;
}

// What poll reports at once for every event a TCP program asks about.
std::string events(SocketApi& api, int fd) {
  pollfd p{fd, static_cast<short>(POLLIN | POLLOUT | POLLRDHUP | POLLPRI), 0};
  const int n = api.poll(&p, 1, 0);
  EXPECT_GE(n, 0) << std::strerror(errno);
  return mask_name(p.revents);
}

int so_error(SocketApi& api, int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(api.getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0) << std::strerror(errno);
  return v;
}

int int_option(SocketApi& api, int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(api.getsockopt(fd, level, name, &v, &len), 0) << std::strerror(errno);
  EXPECT_EQ(len, sizeof v);
  return v;
}

int set_int(SocketApi& api, int fd, int level, int name, int v) {
  return api.setsockopt(fd, level, name, &v, sizeof v);
}

Endpoint peer_endpoint(SocketApi& api, int fd) {
  sockaddr_in s{};
  socklen_t len = sizeof s;
  EXPECT_EQ(api.getpeername(fd, sa(s), &len), 0) << std::strerror(errno);
  return endpoint(s);
}

int getpeername_result(SocketApi& api, int fd) {
  sockaddr_in s{};
  socklen_t len = sizeof s;
  return api.getpeername(fd, sa(s), &len);
}

int tcp_socket(SocketApi& api, int flags = SOCK_NONBLOCK) {
  const int fd = api.socket(AF_INET, SOCK_STREAM | flags, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  return fd;
}

int bind_to(SocketApi& api, int fd, Ipv4Address address, std::uint16_t port) {
  const sockaddr_in local = inet(address, port);
  return api.bind(fd, sa(local), sizeof local);
}

int connect_to(SocketApi& api, int fd, Ipv4Address address, std::uint16_t port) {
  const sockaddr_in to = inet(address, port);
  return api.connect(fd, sa(to), sizeof to);
}

// A non-blocking listener bound to address:port.
int tcp_listener(SocketApi& api, Ipv4Address address = kAny, std::uint16_t port = kPort) {
  const int fd = tcp_socket(api);
  EXPECT_EQ(bind_to(api, fd, address, port), 0) << std::strerror(errno);
  EXPECT_EQ(api.listen(fd, 8), 0) << std::strerror(errno);
  return fd;
}

ssize_t send_str(SocketApi& api, int fd, std::string_view s, int flags = 0) {
  return api.send(fd, s.data(), s.size(), flags);
}

// A non-blocking read of up to `n` bytes as a string; "<errno name>" on failure.
std::string recv_str(SocketApi& api, int fd, std::size_t n = 64, int flags = 0) {
  std::string buf(n, '\0');
  errno = 0;
  const ssize_t got = api.recv(fd, buf.data(), buf.size(), flags | MSG_DONTWAIT);
  if (got < 0) return std::string("<") + strerrorname_np(errno) + ">";
  buf.resize(static_cast<std::size_t>(got));
  return buf;
}

class SocketTcpTest : public ::testing::Test {
 protected:
  // B listens on kPort; A connects with a non-blocking socket and calls connect() only once
  // (it learns of the connection from poll), then B accepts. As in the Linux runs, the client
  // never confirms the connection with a second connect().
  struct Connection {
    int listener = -1;
    int client = -1;  // on A
    int server = -1;  // on B, non-blocking
  };
  Connection establish() {
    Connection c;
    c.listener = tcp_listener(b);
    c.client = tcp_socket(a);
    EXPECT_ERRNO(connect_to(a, c.client, kIpB, kPort), EINPROGRESS);
    EXPECT_TRUE(pair.run_until(
        [&] { return (c.server = b.accept4(c.listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; },
        2s));
    EXPECT_TRUE(pair.run_until([&] { return events(a, c.client) == "OUT"; }, 2s));
    return c;
  }

  // A refused connection: a non-blocking connect to a port of B where nobody listens, stepped
  // until B's RST has arrived.
  int refused() {
    const int fd = tcp_socket(a);
    EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
    pollfd p{fd, POLLOUT, 0};
    EXPECT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) > 0; }, 2s));
    return fd;
  }

  // The client of a connection whose server aborted (SO_LINGER {1, 0} then close).
  int reset_by_peer() {
    const Connection c = establish();
    const linger l{1, 0};
    EXPECT_EQ(b.setsockopt(c.server, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    EXPECT_EQ(b.close(c.server), 0);
    pair.run_for(20ms);
    return c.client;
  }

  // Client in TIME-WAIT: it shut down its side, read the server's FIN, and the server closed.
  // The client confirmed its non-blocking connect with a second connect() (0), as the Linux run
  // did.
  int time_wait() {
    const Connection c = establish();
    EXPECT_EQ(connect_to(a, c.client, kIpB, kPort), 0) << std::strerror(errno);
    EXPECT_EQ(a.shutdown(c.client, SHUT_WR), 0);
    EXPECT_TRUE(pair.run_until([&] { return recv_str(b, c.server) == ""; }, 1s));
    EXPECT_EQ(b.close(c.server), 0);
    EXPECT_TRUE(pair.run_until([&] { return recv_str(a, c.client) == ""; }, 1s));
    pair.run_for(20ms);
    return c.client;
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

// ---------------------------------------------------------------------------------------------
// A fresh socket

TEST_F(SocketTcpTest, FreshSocketPollsOutAndHup) {
  // Linux: a socket that never connected is "hung up" and writable (so a write fails at once).
  const int fd = tcp_socket(a);
  EXPECT_EQ(events(a, fd), "OUT|HUP");
}

TEST_F(SocketTcpTest, FreshSocketNamesAndOptions) {
  const int fd = tcp_socket(a);
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 0}));
  EXPECT_ERRNO(getpeername_result(a, fd), ENOTCONN);
  EXPECT_EQ(so_error(a, fd), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
}

TEST_F(SocketTcpTest, SendOnANeverConnectedSocketIsEpipe) {
  // Linux: EPIPE, not ENOTCONN, for a stream socket that never connected (even for 0 bytes).
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(send_str(a, fd, "x"), EPIPE);
  EXPECT_ERRNO(send_str(a, fd, ""), EPIPE);
}

TEST_F(SocketTcpTest, RecvOnANeverConnectedSocketIsEnotconn) {
  const int fd = tcp_socket(a);
  EXPECT_EQ(recv_str(a, fd), "<ENOTCONN>");
}

TEST_F(SocketTcpTest, RecvOfZeroBytesOnANeverConnectedSocketIsEnotconn) {
  const int fd = tcp_socket(a);
  char c;
  EXPECT_ERRNO(a.recv(fd, &c, 0, 0), ENOTCONN);
}

TEST_F(SocketTcpTest, ShutdownOfAFreshSocketIsEnotconn) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_RD), ENOTCONN);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_WR), ENOTCONN);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_RDWR), ENOTCONN);
}

TEST_F(SocketTcpTest, ShutdownWithAnInvalidHowIsEinvalBeforeEnotconn) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(a.shutdown(fd, 5), EINVAL);
  EXPECT_ERRNO(a.shutdown(fd, -1), EINVAL);
  const Connection c = establish();
  EXPECT_ERRNO(a.shutdown(c.client, 3), EINVAL);
  EXPECT_EQ(events(a, c.client), "OUT");
}

// ---------------------------------------------------------------------------------------------
// bind()

TEST_F(SocketTcpTest, BindTwiceIsEinval) {
  const int fd = tcp_socket(a);
  ASSERT_EQ(bind_to(a, fd, kIpA, 0), 0);
  EXPECT_ERRNO(bind_to(a, fd, kIpA, 0), EINVAL);
  EXPECT_ERRNO(bind_to(a, fd, kAny, 5555), EINVAL);
}

TEST_F(SocketTcpTest, BindToTheAddressOfAListenerIsEaddrinuse) {
  tcp_listener(a, kIpA, kPort);
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(bind_to(a, fd, kIpA, kPort), EADDRINUSE);
  EXPECT_ERRNO(bind_to(a, fd, kAny, kPort), EADDRINUSE);
}

TEST_F(SocketTcpTest, SoReuseaddrDoesNotShareAPortWithAListener) {
  // Linux: SO_REUSEADDR on both sockets is not enough once the first one listens.
  const int first = tcp_socket(a);
  ASSERT_EQ(set_int(a, first, SOL_SOCKET, SO_REUSEADDR, 1), 0);
  ASSERT_EQ(bind_to(a, first, kIpA, kPort), 0);
  ASSERT_EQ(a.listen(first, 8), 0);
  const int second = tcp_socket(a);
  ASSERT_EQ(set_int(a, second, SOL_SOCKET, SO_REUSEADDR, 1), 0);
  EXPECT_ERRNO(bind_to(a, second, kIpA, kPort), EADDRINUSE);
}

TEST_F(SocketTcpTest, SoReuseaddrOnBothSharesAPortWhenNeitherListens) {
  const int first = tcp_socket(a);
  ASSERT_EQ(set_int(a, first, SOL_SOCKET, SO_REUSEADDR, 1), 0);
  ASSERT_EQ(bind_to(a, first, kIpA, kPort), 0);
  const int second = tcp_socket(a);
  ASSERT_EQ(set_int(a, second, SOL_SOCKET, SO_REUSEADDR, 1), 0);
  EXPECT_EQ(bind_to(a, second, kIpA, kPort), 0) << std::strerror(errno);
}

TEST_F(SocketTcpTest, SoReuseaddrOnTheFirstSocketOnlyIsEaddrinuse) {
  const int first = tcp_socket(a);
  ASSERT_EQ(set_int(a, first, SOL_SOCKET, SO_REUSEADDR, 1), 0);
  ASSERT_EQ(bind_to(a, first, kIpA, kPort), 0);
  const int second = tcp_socket(a);
  EXPECT_ERRNO(bind_to(a, second, kIpA, kPort), EADDRINUSE);
}

TEST_F(SocketTcpTest, APortHeldByTimeWaitIsFreeOnlyWithSoReuseaddrOnBothSockets) {
  // Linux: the TIME-WAIT connection keeps the SO_REUSEADDR of the listener it came from; the
  // port is free again only if that and the new socket both have it.
  for (const bool listener_reuse : {true, false}) {
    SCOPED_TRACE(listener_reuse);
    ApiPair fresh;
    SocketApi& a2 = fresh.a();
    SocketApi& b2 = fresh.b();
    const int listener = tcp_socket(b2);
    ASSERT_EQ(set_int(b2, listener, SOL_SOCKET, SO_REUSEADDR, listener_reuse), 0);
    ASSERT_EQ(bind_to(b2, listener, kAny, kPort), 0);
    ASSERT_EQ(b2.listen(listener, 8), 0);
    const int client = tcp_socket(a2);
    EXPECT_ERRNO(connect_to(a2, client, kIpB, kPort), EINPROGRESS);
    int server = -1;
    ASSERT_TRUE(fresh.run_until(
        [&] { return (server = b2.accept4(listener, nullptr, nullptr, 0)) >= 0; }, 2s));
    // The server closes first, so its side of the connection holds kPort in TIME-WAIT.
    ASSERT_EQ(b2.close(server), 0);
    ASSERT_TRUE(fresh.run_until([&] { return recv_str(a2, client) == ""; }, 1s));
    ASSERT_EQ(a2.close(client), 0);
    fresh.run_for(20ms);
    ASSERT_EQ(b2.close(listener), 0);

    const int plain = tcp_socket(b2);
    EXPECT_ERRNO(bind_to(b2, plain, kIpB, kPort), EADDRINUSE);
    const int reuse = tcp_socket(b2);
    ASSERT_EQ(set_int(b2, reuse, SOL_SOCKET, SO_REUSEADDR, 1), 0);
    if (listener_reuse) {
      EXPECT_EQ(bind_to(b2, reuse, kIpB, kPort), 0) << std::strerror(errno);
    } else {
      EXPECT_ERRNO(bind_to(b2, reuse, kIpB, kPort), EADDRINUSE);
    }
  }
}

TEST_F(SocketTcpTest, BindOnAConnectedSocketIsEinval) {
  const Connection c = establish();
  EXPECT_ERRNO(bind_to(a, c.client, kIpA, 0), EINVAL);
}

// ---------------------------------------------------------------------------------------------
// listen() and accept()

TEST_F(SocketTcpTest, ListenOnAnUnboundSocketPicksAPort) {
  const int fd = tcp_socket(b);
  ASSERT_EQ(b.listen(fd, 4), 0);
  const Endpoint local = local_endpoint(b, fd);
  EXPECT_EQ(local.address, kAny);
  EXPECT_NE(local.port, 0);
  // And it is a real listener on that port.
  const int client = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, client, kIpB, local.port), EINPROGRESS);
  EXPECT_TRUE(pair.run_until([&] { return events(b, fd) == "IN"; }, 2s));
}

TEST_F(SocketTcpTest, ListenTwiceAndANegativeBacklogAreAccepted) {
  const int fd = tcp_listener(b);
  EXPECT_EQ(b.listen(fd, 20), 0) << std::strerror(errno);
  const int other = tcp_socket(b);
  EXPECT_EQ(b.listen(other, -1), 0) << std::strerror(errno);
}

TEST_F(SocketTcpTest, ListenOnAConnectedOrConnectingSocketIsEinval) {
  const Connection c = establish();
  EXPECT_ERRNO(a.listen(c.client, 4), EINVAL);
  EXPECT_ERRNO(b.listen(c.server, 4), EINVAL);
  const int connecting = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, connecting, kSilent, 80), EINPROGRESS);
  EXPECT_ERRNO(a.listen(connecting, 4), EINVAL);
}

TEST_F(SocketTcpTest, ListenerNamesOptionsAndMisuse) {
  const int fd = tcp_listener(b);
  EXPECT_EQ(int_option(b, fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
  EXPECT_EQ(so_error(b, fd), 0);
  EXPECT_ERRNO(getpeername_result(b, fd), ENOTCONN);
  // Linux: sending on a listener is EPIPE, receiving ENOTCONN.
  EXPECT_ERRNO(send_str(b, fd, "x"), EPIPE);
  EXPECT_EQ(recv_str(b, fd), "<ENOTCONN>");
  EXPECT_ERRNO(bind_to(b, fd, kIpB, 0), EINVAL);
}

TEST_F(SocketTcpTest, ConnectOnAListenerIsEisconn) {
  // Linux: EISCONN, although a listener has no peer.
  const int fd = tcp_listener(a);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EISCONN);
}

TEST_F(SocketTcpTest, ListenerPollsInOnlyWithAPendingConnection) {
  const int fd = tcp_listener(b);
  EXPECT_EQ(events(b, fd), "0");
  const int client = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, client, kIpB, kPort), EINPROGRESS);
  EXPECT_TRUE(pair.run_until([&] { return events(b, fd) != "0"; }, 2s));
  EXPECT_EQ(events(b, fd), "IN");
  ASSERT_GE(b.accept4(fd, nullptr, nullptr, 0), 0);
  EXPECT_EQ(events(b, fd), "0");
}

TEST_F(SocketTcpTest, AcceptOnASocketThatDoesNotListenIsEinval) {
  const int fresh = tcp_socket(b);
  EXPECT_ERRNO(b.accept4(fresh, nullptr, nullptr, 0), EINVAL);
  const Connection c = establish();
  EXPECT_ERRNO(b.accept4(c.server, nullptr, nullptr, 0), EINVAL);
}

TEST_F(SocketTcpTest, NonBlockingAcceptWithNothingPendingIsEagain) {
  const int fd = tcp_listener(b);
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, 0), EAGAIN);
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, SOCK_NONBLOCK), EAGAIN);
}

TEST_F(SocketTcpTest, Accept4WithUnknownFlagsIsEinvalAndLeavesTheConnectionQueued) {
  const int fd = tcp_listener(b);
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, 0x1234), EINVAL);
  const int client = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, client, kIpB, kPort), EINPROGRESS);
  ASSERT_TRUE(pair.run_until([&] { return events(b, fd) == "IN"; }, 2s));
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, 0x1234), EINVAL);
  EXPECT_GE(b.accept4(fd, nullptr, nullptr, 0), 0) << std::strerror(errno);
}

TEST_F(SocketTcpTest, Accept4SockNonblockMakesTheChildNonBlocking) {
  const int fd = tcp_listener(b);
  for (int i = 0; i < 2; ++i) {
    const int client = tcp_socket(a);
    EXPECT_ERRNO(connect_to(a, client, kIpB, kPort), EINPROGRESS);
  }
  int nonblocking = -1;
  ASSERT_TRUE(pair.run_until(
      [&] { return (nonblocking = b.accept4(fd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; }, 2s));
  EXPECT_EQ(b.fcntl(nonblocking, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  // Linux: a plain accept on a non-blocking listener gives a blocking socket (no inheritance).
  int plain = -1;
  ASSERT_TRUE(
      pair.run_until([&] { return (plain = b.accept4(fd, nullptr, nullptr, 0)) >= 0; }, 2s));
  EXPECT_EQ(b.fcntl(plain, F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(SocketTcpTest, AcceptReportsThePeerAndBothEndsAgreeOnNames) {
  const int fd = tcp_listener(b);
  const int client = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, client, kIpB, kPort), EINPROGRESS);
  sockaddr_in from{};
  socklen_t len = sizeof from;
  int server = -1;
  ASSERT_TRUE(pair.run_until([&] { return (server = b.accept4(fd, sa(from), &len, 0)) >= 0; }, 2s));
  EXPECT_EQ(len, sizeof from);
  EXPECT_EQ(endpoint(from), local_endpoint(a, client));
  EXPECT_EQ(local_endpoint(b, server), (Endpoint{kIpB, kPort}));
  EXPECT_EQ(peer_endpoint(b, server), local_endpoint(a, client));
  ASSERT_TRUE(pair.run_until([&] { return events(a, client) == "OUT"; }, 2s));
  EXPECT_EQ(peer_endpoint(a, client), (Endpoint{kIpB, kPort}));
  EXPECT_EQ(local_endpoint(a, client).address, kIpA);
  EXPECT_EQ(so_error(a, client), 0);
  EXPECT_EQ(int_option(a, client, SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(int_option(b, server, SOL_SOCKET, SO_ACCEPTCONN), 0);
}

// ---------------------------------------------------------------------------------------------
// connect()

TEST_F(SocketTcpTest, NonBlockingConnectIsEinprogressThenPollout) {
  tcp_listener(b);
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
  EXPECT_EQ(events(a, fd), "0");
  EXPECT_TRUE(pair.run_until([&] { return events(a, fd) != "0"; }, 2s));
  EXPECT_EQ(events(a, fd), "OUT");
  EXPECT_EQ(so_error(a, fd), 0);
}

TEST_F(SocketTcpTest, ConnectWhileTheFirstIsPendingIsEalready) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
  EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EALREADY);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, 81), EALREADY);
}

TEST_F(SocketTcpTest, SynSentNamesAndCalls) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
  const Endpoint local = local_endpoint(a, fd);
  EXPECT_EQ(local.address, kIpA);
  EXPECT_NE(local.port, 0);
  EXPECT_ERRNO(getpeername_result(a, fd), ENOTCONN);
  EXPECT_ERRNO(send_str(a, fd, "x"), EAGAIN);
  EXPECT_EQ(recv_str(a, fd), "<EAGAIN>");
}

TEST_F(SocketTcpTest, MsgDontwaitSendOnABlockingSocketInSynSentIsEagain) {
  const int fd = tcp_socket(a, 0);
  ASSERT_EQ(a.fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
  ASSERT_EQ(a.fcntl(fd, F_SETFL, 0), 0);
  EXPECT_ERRNO(send_str(a, fd, "x", MSG_DONTWAIT), EAGAIN);
}

TEST_F(SocketTcpTest, ConnectAfterACompletedNonBlockingConnectIsZeroOnceThenEisconn) {
  // Linux: the first connect() after the handshake completes reports success; only then EISCONN.
  const Connection c = establish();
  EXPECT_EQ(connect_to(a, c.client, kIpB, kPort), 0) << std::strerror(errno);
  EXPECT_ERRNO(connect_to(a, c.client, kIpB, kPort), EISCONN);
  EXPECT_ERRNO(connect_to(a, c.client, kIpB, kPort), EISCONN);
}

TEST_F(SocketTcpTest, ConnectOnAnAcceptedSocketIsEisconn) {
  const Connection c = establish();
  EXPECT_ERRNO(connect_to(b, c.server, kIpA, 9), EISCONN);
}

TEST_F(SocketTcpTest, ConnectOnAnAcceptedSocketThatWasResetIsEisconn) {
  // Linux: an accepted socket stays "connected" for connect() even after the RST.
  const Connection c = establish();
  const linger l{1, 0};
  ASSERT_EQ(a.setsockopt(c.client, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(a.close(c.client), 0);
  pair.run_for(20ms);
  EXPECT_ERRNO(connect_to(b, c.server, kIpA, 9), EISCONN);
  EXPECT_ERRNO(connect_to(b, c.server, kIpA, 9), EISCONN);
}

TEST_F(SocketTcpTest, RefusedConnectPollsErrorAndSoErrorIsEconnrefused) {
  const int fd = refused();
  EXPECT_EQ(events(a, fd), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(so_error(a, fd), ECONNREFUSED);
  // Read once: POLLERR goes with it.
  EXPECT_EQ(so_error(a, fd), 0);
  EXPECT_EQ(events(a, fd), "IN|OUT|HUP|RDHUP");
}

TEST_F(SocketTcpTest, ConnectAfterARefusalReadBySoErrorIsEconnabortedThenANewAttempt) {
  // Linux: the failed attempt is reported once more as ECONNABORTED; the call after starts anew.
  const int fd = refused();
  EXPECT_EQ(so_error(a, fd), ECONNREFUSED);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), ECONNABORTED);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
  EXPECT_TRUE(pair.run_until([&] { return events(a, fd) != "0"; }, 2s));
  EXPECT_EQ(events(a, fd), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(so_error(a, fd), ECONNREFUSED);
}

TEST_F(SocketTcpTest, ConnectAfterAnUnreadRefusalIsEconnrefusedThenANewAttempt) {
  const int fd = refused();
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), ECONNREFUSED);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
}

TEST_F(SocketTcpTest, ARefusedConnectionNowListeningSucceedsOnTheNextAttempt) {
  const int fd = refused();
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), ECONNREFUSED);
  const int listener = tcp_listener(b);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
  EXPECT_TRUE(pair.run_until([&] { return events(a, fd) == "OUT"; }, 2s));
  EXPECT_GE(b.accept4(listener, nullptr, nullptr, 0), 0) << std::strerror(errno);
}

TEST_F(SocketTcpTest, SendAfterARefusalIsEconnrefusedThenEpipe) {
  const int fd = refused();
  EXPECT_ERRNO(send_str(a, fd, "x"), ECONNREFUSED);
  EXPECT_ERRNO(send_str(a, fd, "x"), EPIPE);
  EXPECT_EQ(recv_str(a, fd), "");
  EXPECT_ERRNO(getpeername_result(a, fd), ENOTCONN);
}

TEST_F(SocketTcpTest, RecvAfterARefusalIsEconnrefusedThenEof) {
  const int fd = refused();
  EXPECT_EQ(recv_str(a, fd), "<ECONNREFUSED>");
  EXPECT_EQ(recv_str(a, fd), "");
}

TEST_F(SocketTcpTest, ARefusedSocketKeepsItsLocalName) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EINPROGRESS);
  const Endpoint before = local_endpoint(a, fd);
  pollfd p{fd, POLLOUT, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) > 0; }, 2s));
  EXPECT_EQ(local_endpoint(a, fd), before);
  EXPECT_EQ(so_error(a, fd), ECONNREFUSED);
  EXPECT_EQ(local_endpoint(a, fd), before);
}

TEST_F(SocketTcpTest, ConnectToABroadcastOrMulticastAddressIsEnetunreach) {
  // Linux: tcp_v4_connect refuses broadcast and multicast routes with ENETUNREACH.
  for (Ipv4Address to :
       {Ipv4Address{10, 1, 0, 255}, Ipv4Address{255, 255, 255, 255}, Ipv4Address{224, 0, 0, 1}}) {
    SCOPED_TRACE(fmt::format("{}", to));
    const int fd = tcp_socket(a);
    EXPECT_ERRNO(connect_to(a, fd, to, kPort), ENETUNREACH);
  }
}

TEST_F(SocketTcpTest, NonBlockingConnectToAHostThatNeverAnswersArpIsEhostunreach) {
  // Linux: when ARP gives up, the connect fails with EHOSTUNREACH (about 3 s).
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
  EXPECT_TRUE(pair.run_until([&] { return events(a, fd) != "0"; }, 30s, 10ms));
  EXPECT_EQ(events(a, fd), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(so_error(a, fd), EHOSTUNREACH);
}

// ---------------------------------------------------------------------------------------------
// send() and recv()

TEST_F(SocketTcpTest, DataFlowsBothWaysAndSendOfZeroBytesIsZero) {
  const Connection c = establish();
  EXPECT_EQ(send_str(a, c.client, "ping"), 4);
  EXPECT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(b, c.server), "ping");
  EXPECT_EQ(send_str(b, c.server, "pong"), 4);
  EXPECT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client), "pong");
  EXPECT_EQ(send_str(a, c.client, ""), 0);
}

TEST_F(SocketTcpTest, RecvWithNothingQueuedIsEagain) {
  const Connection c = establish();
  EXPECT_EQ(recv_str(a, c.client), "<EAGAIN>");
}

TEST_F(SocketTcpTest, RecvOfZeroBytesWithNothingQueuedIsEagain) {
  // Linux: a 0-byte read still waits for data (a non-blocking one says EAGAIN), unlike send.
  const Connection c = establish();
  char ch;
  EXPECT_ERRNO(a.recv(c.client, &ch, 0, 0), EAGAIN);
}

TEST_F(SocketTcpTest, MsgPeekLeavesTheDataQueued) {
  const Connection c = establish();
  ASSERT_EQ(send_str(b, c.server, "abcdef"), 6);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client, 3, MSG_PEEK), "abc");
  EXPECT_EQ(recv_str(a, c.client, 100, MSG_PEEK), "abcdef");
  EXPECT_EQ(recv_str(a, c.client, 2), "ab");
  EXPECT_EQ(recv_str(a, c.client, 100), "cdef");
  EXPECT_EQ(recv_str(a, c.client), "<EAGAIN>");
}

TEST_F(SocketTcpTest, MsgWaitallOnANonBlockingReadReturnsWhatIsThere) {
  const Connection c = establish();
  ASSERT_EQ(send_str(b, c.server, "abc"), 3);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client, 10, MSG_WAITALL), "abc");
}

TEST_F(SocketTcpTest, MsgDontwaitOnABlockingSocket) {
  const Connection c = establish();
  ASSERT_EQ(a.fcntl(c.client, F_SETFL, 0), 0);
  char buf[16];
  EXPECT_ERRNO(a.recv(c.client, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
  ASSERT_EQ(send_str(b, c.server, "abc"), 3);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  EXPECT_EQ(a.recv(c.client, buf, sizeof buf, MSG_DONTWAIT), 3);
}

TEST_F(SocketTcpTest, AFullSendBufferTakesPartOfAWriteThenEagainAndNoPollout) {
  const Connection c = establish();
  ASSERT_EQ(set_int(a, c.client, SOL_SOCKET, SO_SNDBUF, 4096), 0);
  const Bytes data = pattern(100000);
  const ssize_t first = a.send(c.client, data.data(), data.size(), 0);
  EXPECT_GT(first, 0);
  EXPECT_LT(first, static_cast<ssize_t>(data.size()));
  EXPECT_ERRNO(a.send(c.client, data.data(), data.size(), 0), EAGAIN);
  EXPECT_EQ(events(a, c.client), "0");

  // Everything taken arrives in order, and the writer becomes writable again.
  Bytes got;
  Bytes buf(65536);
  ASSERT_TRUE(pair.run_until(
      [&] {
        const ssize_t n = b.recv(c.server, buf.data(), buf.size(), 0);
        if (n > 0) got.insert(got.end(), buf.begin(), buf.begin() + n);
        return got.size() >= static_cast<std::size_t>(first);
      },
      5s));
  EXPECT_EQ(got, Bytes(data.begin(), data.begin() + first));
  EXPECT_TRUE(pair.run_until([&] { return events(a, c.client) == "OUT"; }, 1s));
}

TEST_F(SocketTcpTest, PeerFinGivesEofAgainAndAgainAndPollsInRdhup) {
  const Connection c = establish();
  ASSERT_EQ(b.close(c.server), 0);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) != "OUT"; }, 1s));
  EXPECT_EQ(events(a, c.client), "IN|OUT|RDHUP");
  EXPECT_EQ(recv_str(a, c.client), "");
  EXPECT_EQ(recv_str(a, c.client), "");
  // CLOSE-WAIT still has a peer.
  EXPECT_EQ(peer_endpoint(a, c.client), (Endpoint{kIpB, kPort}));
}

// MSG_MORE (Linux: that one push is corked): the short tail waits for what follows.
TEST_F(SocketTcpTest, MsgMoreHoldsAShortSegmentUntilTheFinWhichThenSharesIt) {
  const Connection c = establish();
  const std::uint64_t sent_before = pair.stack_b().stats().get(Counter::tcp_tx);
  ASSERT_EQ(send_str(b, c.server, "response", MSG_MORE), 8);
  pair.run_for(500ms);  // longer than any RTO: held for the application, not for a window
  EXPECT_EQ(recv_str(a, c.client), "<EAGAIN>");
  EXPECT_EQ(pair.stack_b().stats().get(Counter::tcp_tx), sent_before);
  ASSERT_EQ(b.shutdown(c.server, SHUT_WR), 0);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT|RDHUP"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client), "response");
  EXPECT_EQ(recv_str(a, c.client), "");
  // Data and FIN in one segment.
  EXPECT_EQ(pair.stack_b().stats().get(Counter::tcp_tx), sent_before + 1);
}

TEST_F(SocketTcpTest, ASendWithoutMsgMorePushesWhatMsgMoreHeld) {
  const Connection c = establish();
  ASSERT_EQ(send_str(a, c.client, "head ", MSG_MORE), 5);
  pair.run_for(50ms);
  EXPECT_EQ(recv_str(b, c.server), "<EAGAIN>");
  ASSERT_EQ(send_str(a, c.client, "body"), 4);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(b, c.server), "head body");
}

// The cork lasts for that one send: the full segments leave at once, and the ACK that comes
// back for them sends the tail under the usual rules (Linux tcp_push_pending_frames).
TEST_F(SocketTcpTest, MsgMoreStillSendsFullSegmentsAndTheirAckPushesTheTail) {
  const Connection c = establish();
  const std::string big(3000, 'x');  // two full segments and a short tail
  ASSERT_EQ(send_str(a, c.client, big, MSG_MORE), 3000);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT"; }, 1s));
  const auto mss = static_cast<std::size_t>(int_option(a, c.client, IPPROTO_TCP, TCP_MAXSEG));
  EXPECT_EQ(recv_str(b, c.server, 4000).size(), 2 * mss);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(b, c.server, 4000).size(), 3000 - 2 * mss);
}

TEST_F(SocketTcpTest, DataBeforeTheFinIsReadFirst) {
  const Connection c = establish();
  ASSERT_EQ(send_str(b, c.server, "last"), 4);
  ASSERT_EQ(b.shutdown(c.server, SHUT_WR), 0);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT|RDHUP"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client), "last");
  EXPECT_EQ(recv_str(a, c.client), "");
}

TEST_F(SocketTcpTest, PeerResetPollsErrorAndDropsThePeerName) {
  const int fd = reset_by_peer();
  EXPECT_EQ(events(a, fd), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_ERRNO(getpeername_result(a, fd), ENOTCONN);
  EXPECT_EQ(local_endpoint(a, fd).address, kIpA);
}

TEST_F(SocketTcpTest, SendAfterPeerResetIsEconnresetOnceThenEpipe) {
  const int fd = reset_by_peer();
  EXPECT_ERRNO(send_str(a, fd, "x"), ECONNRESET);
  EXPECT_ERRNO(send_str(a, fd, "x"), EPIPE);
  EXPECT_EQ(recv_str(a, fd), "");
}

TEST_F(SocketTcpTest, RecvAfterPeerResetIsEconnresetOnceThenEof) {
  const int fd = reset_by_peer();
  EXPECT_EQ(recv_str(a, fd), "<ECONNRESET>");
  EXPECT_EQ(recv_str(a, fd), "");
  EXPECT_EQ(so_error(a, fd), 0);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_RDWR), ENOTCONN);
}

TEST_F(SocketTcpTest, SoErrorAfterPeerResetIsEconnresetThenSendIsEpipe) {
  const int fd = reset_by_peer();
  EXPECT_EQ(so_error(a, fd), ECONNRESET);
  EXPECT_ERRNO(send_str(a, fd, "x"), EPIPE);
  EXPECT_EQ(recv_str(a, fd), "");
}

TEST_F(SocketTcpTest, ConnectAfterPeerResetIsEconnaborted) {
  // Linux: the client never confirmed its non-blocking connect, so connect() still looks at
  // the attempt, finds the socket closed, and says ECONNABORTED.
  const int fd = reset_by_peer();
  EXPECT_ERRNO(send_str(a, fd, "x"), ECONNRESET);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), ECONNABORTED);
}

// ---------------------------------------------------------------------------------------------
// shutdown()

TEST_F(SocketTcpTest, ShutWrSendsFinAndLaterSendsAreEpipe) {
  const Connection c = establish();
  ASSERT_EQ(a.shutdown(c.client, SHUT_WR), 0);
  EXPECT_ERRNO(send_str(a, c.client, "x"), EPIPE);
  EXPECT_EQ(a.shutdown(c.client, SHUT_WR), 0);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) != "OUT"; }, 1s));
  EXPECT_EQ(events(b, c.server), "IN|OUT|RDHUP");
  EXPECT_EQ(recv_str(b, c.server), "");
  // Linux: our own SHUT_WR alone shows nothing in poll but POLLOUT.
  EXPECT_EQ(events(a, c.client), "OUT");
}

TEST_F(SocketTcpTest, HalfCloseThePeerStillSendsAndWeReadIt) {
  const Connection c = establish();
  ASSERT_EQ(a.shutdown(c.client, SHUT_WR), 0);
  ASSERT_TRUE(pair.run_until([&] { return recv_str(b, c.server) == ""; }, 1s));
  ASSERT_EQ(send_str(b, c.server, "half"), 4);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  EXPECT_EQ(recv_str(a, c.client), "half");
}

TEST_F(SocketTcpTest, ShutRdMakesRecvReturnZeroButLaterDataIsStillRead) {
  // Linux: SHUT_RD on TCP only makes an empty read return 0; data that arrives is still read,
  // and the peer is told nothing.
  const Connection c = establish();
  ASSERT_EQ(a.shutdown(c.client, SHUT_RD), 0);
  EXPECT_EQ(events(a, c.client), "IN|OUT|RDHUP");
  EXPECT_EQ(recv_str(a, c.client), "");
  pair.run_for(20ms);
  EXPECT_EQ(events(b, c.server), "OUT");
  ASSERT_EQ(send_str(b, c.server, "late"), 4);
  pair.run_for(20ms);
  EXPECT_EQ(recv_str(a, c.client), "late");
  EXPECT_EQ(recv_str(a, c.client), "");
  EXPECT_EQ(send_str(a, c.client, "x"), 1);
}

TEST_F(SocketTcpTest, ShutRdStillReturnsDataAlreadyQueued) {
  const Connection c = establish();
  ASSERT_EQ(send_str(b, c.server, "queued"), 6);
  ASSERT_TRUE(pair.run_until([&] { return events(a, c.client) == "IN|OUT"; }, 1s));
  ASSERT_EQ(a.shutdown(c.client, SHUT_RD), 0);
  EXPECT_EQ(recv_str(a, c.client), "queued");
}

TEST_F(SocketTcpTest, ShutRdwrPollsHupAndKeepsThePeerName) {
  const Connection c = establish();
  ASSERT_EQ(a.shutdown(c.client, SHUT_RDWR), 0);
  EXPECT_EQ(events(a, c.client), "IN|OUT|HUP|RDHUP");
  EXPECT_EQ(peer_endpoint(a, c.client), (Endpoint{kIpB, kPort}));
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) != "OUT"; }, 1s));
  EXPECT_EQ(events(b, c.server), "IN|OUT|RDHUP");
}

TEST_F(SocketTcpTest, ShutRdThenShutWrPollsHup) {
  const Connection c = establish();
  ASSERT_EQ(a.shutdown(c.client, SHUT_RD), 0);
  ASSERT_EQ(a.shutdown(c.client, SHUT_WR), 0);
  EXPECT_EQ(events(a, c.client), "IN|OUT|HUP|RDHUP");
}

TEST_F(SocketTcpTest, ShutWrOnAListenerIsZeroAndItStillListens) {
  // Linux: accepted and ignored.
  const int fd = tcp_listener(b);
  EXPECT_EQ(b.shutdown(fd, SHUT_WR), 0) << std::strerror(errno);
  EXPECT_EQ(int_option(b, fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
  EXPECT_EQ(events(b, fd), "0");
}

TEST_F(SocketTcpTest, ShutRdOnAListenerStopsListening) {
  // Linux: the listener is disconnected (CLOSED, port kept): accept is EINVAL, connections are
  // refused, and listen() works again.
  const int fd = tcp_listener(b);
  ASSERT_EQ(b.shutdown(fd, SHUT_RD), 0) << std::strerror(errno);
  EXPECT_EQ(int_option(b, fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(events(b, fd), "OUT|HUP");
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, 0), EINVAL);
  EXPECT_EQ(local_endpoint(b, fd), (Endpoint{kAny, kPort}));

  const int client = refused();
  EXPECT_EQ(so_error(a, client), ECONNREFUSED);

  ASSERT_EQ(b.listen(fd, 4), 0) << std::strerror(errno);
  EXPECT_EQ(int_option(b, fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
  EXPECT_EQ(events(b, fd), "0");
}

TEST_F(SocketTcpTest, ShutRdwrOnAListenerResetsItsPendingConnections) {
  const int fd = tcp_listener(b);
  const int client = tcp_socket(a);
  EXPECT_ERRNO(connect_to(a, client, kIpB, kPort), EINPROGRESS);
  ASSERT_TRUE(pair.run_until([&] { return events(b, fd) == "IN"; }, 2s));
  ASSERT_EQ(b.shutdown(fd, SHUT_RDWR), 0) << std::strerror(errno);
  EXPECT_ERRNO(b.accept4(fd, nullptr, nullptr, 0), EINVAL);
  pair.run_for(20ms);
  EXPECT_EQ(events(a, client), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(so_error(a, client), ECONNRESET);
}

TEST_F(SocketTcpTest, ShutdownInSynSentAbortsTheAttempt) {
  // Linux: shutdown() of any kind disconnects a connecting socket and returns 0; SO_ERROR then
  // says ECONNRESET, and the socket can connect again.
  for (int how : {SHUT_RD, SHUT_WR, SHUT_RDWR}) {
    SCOPED_TRACE(how);
    const int fd = tcp_socket(a);
    EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
    EXPECT_EQ(a.shutdown(fd, how), 0) << std::strerror(errno);
    EXPECT_EQ(events(a, fd), "OUT|ERR|HUP");
    EXPECT_EQ(so_error(a, fd), ECONNRESET);
    EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EINPROGRESS);
    EXPECT_EQ(events(a, fd), "0");
    EXPECT_ERRNO(connect_to(a, fd, kSilent, 80), EALREADY);
  }
}

// ---------------------------------------------------------------------------------------------
// Both FINs: TIME-WAIT

TEST_F(SocketTcpTest, TimeWaitPollsHupAndReadsEof) {
  const int fd = time_wait();
  EXPECT_EQ(events(a, fd), "IN|OUT|HUP|RDHUP");
  EXPECT_EQ(recv_str(a, fd), "");
}

TEST_F(SocketTcpTest, TimeWaitHasNoPeerNameButKeepsItsOwn) {
  // Linux: getpeername and shutdown see a socket in TIME-WAIT as not connected.
  const int fd = time_wait();
  EXPECT_ERRNO(getpeername_result(a, fd), ENOTCONN);
  EXPECT_EQ(local_endpoint(a, fd).address, kIpA);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_RDWR), ENOTCONN);
  EXPECT_ERRNO(send_str(a, fd, "x"), EPIPE);
  EXPECT_ERRNO(connect_to(a, fd, kIpB, kPort), EISCONN);
  EXPECT_EQ(so_error(a, fd), 0);
}

// ---------------------------------------------------------------------------------------------
// close()

TEST_F(SocketTcpTest, GracefulClosePeerReadsEof) {
  const Connection c = establish();
  ASSERT_EQ(send_str(a, c.client, "bye"), 3);
  ASSERT_EQ(a.close(c.client), 0);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT|RDHUP"; }, 1s));
  EXPECT_EQ(recv_str(b, c.server), "bye");
  EXPECT_EQ(recv_str(b, c.server), "");
  EXPECT_EQ(recv_str(b, c.server), "");
}

TEST_F(SocketTcpTest, CloseWithUnreadDataResetsThePeer) {
  const Connection c = establish();
  ASSERT_EQ(send_str(a, c.client, "unread"), 6);
  ASSERT_TRUE(pair.run_until([&] { return events(b, c.server) == "IN|OUT"; }, 1s));
  ASSERT_EQ(b.close(c.server), 0);
  pair.run_for(20ms);
  EXPECT_EQ(events(a, c.client), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(recv_str(a, c.client), "<ECONNRESET>");
}

TEST_F(SocketTcpTest, SoLingerZeroCloseResetsThePeer) {
  const Connection c = establish();
  const linger l{1, 0};
  ASSERT_EQ(a.setsockopt(c.client, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(a.close(c.client), 0);
  pair.run_for(20ms);
  EXPECT_EQ(events(b, c.server), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(recv_str(b, c.server), "<ECONNRESET>");
  EXPECT_EQ(recv_str(b, c.server), "");
}

TEST_F(SocketTcpTest, ResetInCloseWaitIsReportedAsEpipe) {
  // Linux: an RST in CLOSE-WAIT sets the error to EPIPE, not ECONNRESET (tcp_reset).
  const Connection c = establish();
  ASSERT_EQ(b.close(c.server), 0);
  ASSERT_TRUE(pair.run_until([&] { return recv_str(a, c.client) == ""; }, 1s));
  // The server is gone, so data to it draws an RST.
  ASSERT_EQ(send_str(a, c.client, "x"), 1);
  pair.run_for(50ms);
  EXPECT_EQ(events(a, c.client), "IN|OUT|ERR|HUP|RDHUP");
  EXPECT_EQ(so_error(a, c.client), EPIPE);
}

TEST_F(SocketTcpTest, SendAfterAResetInCloseWaitIsEpipe) {
  const Connection c = establish();
  ASSERT_EQ(b.close(c.server), 0);
  ASSERT_TRUE(pair.run_until([&] { return recv_str(a, c.client) == ""; }, 1s));
  ASSERT_EQ(send_str(a, c.client, "x"), 1);
  pair.run_for(50ms);
  EXPECT_ERRNO(send_str(a, c.client, "y"), EPIPE);
  EXPECT_ERRNO(send_str(a, c.client, "y"), EPIPE);
  EXPECT_EQ(recv_str(a, c.client), "");
  EXPECT_ERRNO(getpeername_result(a, c.client), ENOTCONN);
  EXPECT_ERRNO(a.shutdown(c.client, SHUT_WR), ENOTCONN);
  EXPECT_EQ(events(a, c.client), "IN|OUT|HUP|RDHUP");
}

// ---------------------------------------------------------------------------------------------
// Options

TEST_F(SocketTcpTest, OptionDefaults) {
  const int fd = tcp_socket(a);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_MAXSEG), 536);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_KEEPINTVL), 75);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  linger l{-1, -1};
  socklen_t len = sizeof l;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len), 0);
  EXPECT_EQ(len, sizeof l);
  EXPECT_EQ(l.l_onoff, 0);
  EXPECT_EQ(l.l_linger, 0);
}

TEST_F(SocketTcpTest, BooleanOptionsReadBackAsOne) {
  const int fd = tcp_socket(a);
  ASSERT_EQ(set_int(a, fd, IPPROTO_TCP, TCP_NODELAY, 5), 0);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_NODELAY), 1);
  ASSERT_EQ(set_int(a, fd, SOL_SOCKET, SO_KEEPALIVE, 7), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  ASSERT_EQ(set_int(a, fd, IPPROTO_TCP, TCP_NODELAY, 0), 0);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_NODELAY), 0);
}

TEST_F(SocketTcpTest, TcpMaxsegAcceptsZeroAnd88Through32767) {
  // Linux: 0 means "the default" (reads back 536); the upper limit is MAX_TCP_WINDOW, 32767.
  for (int v : {88, 89, 536, 1460, 32767}) {
    SCOPED_TRACE(v);
    const int fd = tcp_socket(a);
    EXPECT_EQ(set_int(a, fd, IPPROTO_TCP, TCP_MAXSEG, v), 0) << std::strerror(errno);
    EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_MAXSEG), v);
  }
  const int fd = tcp_socket(a);
  EXPECT_EQ(set_int(a, fd, IPPROTO_TCP, TCP_MAXSEG, 0), 0);
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_MAXSEG), 536);
}

TEST_F(SocketTcpTest, TcpMaxsegOutsideTheRangeIsEinval) {
  const int fd = tcp_socket(a);
  for (int v : {1, 87, 32768, 65535, 65536, -1}) {
    SCOPED_TRACE(v);
    EXPECT_ERRNO(set_int(a, fd, IPPROTO_TCP, TCP_MAXSEG, v), EINVAL);
  }
  EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_MAXSEG), 536);
}

TEST_F(SocketTcpTest, TcpMaxsegSetOnAListenerReadsBack) {
  const int fd = tcp_socket(b);
  ASSERT_EQ(set_int(b, fd, IPPROTO_TCP, TCP_MAXSEG, 1000), 0);
  ASSERT_EQ(b.listen(fd, 4), 0);
  EXPECT_EQ(int_option(b, fd, IPPROTO_TCP, TCP_MAXSEG), 1000);
}

TEST_F(SocketTcpTest, KeepaliveTimesRange) {
  const int fd = tcp_socket(a);
  for (int name : {TCP_KEEPIDLE, TCP_KEEPINTVL}) {
    SCOPED_TRACE(name);
    for (int v : {1, 32767}) {
      EXPECT_EQ(set_int(a, fd, IPPROTO_TCP, name, v), 0);
      EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, name), v);
    }
    for (int v : {0, 32768, -1}) EXPECT_ERRNO(set_int(a, fd, IPPROTO_TCP, name, v), EINVAL);
  }
  for (int v : {1, 127}) {
    EXPECT_EQ(set_int(a, fd, IPPROTO_TCP, TCP_KEEPCNT, v), 0);
    EXPECT_EQ(int_option(a, fd, IPPROTO_TCP, TCP_KEEPCNT), v);
  }
  for (int v : {0, 128, -1}) EXPECT_ERRNO(set_int(a, fd, IPPROTO_TCP, TCP_KEEPCNT, v), EINVAL);
}

TEST_F(SocketTcpTest, SoLingerReadsBack) {
  const int fd = tcp_socket(a);
  const linger on{1, 5};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_LINGER, &on, sizeof on), 0);
  linger l{};
  socklen_t len = sizeof l;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len), 0);
  EXPECT_EQ(l.l_onoff, 1);
  EXPECT_EQ(l.l_linger, 5);
  const int one = 1;
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_LINGER, &one, sizeof one), EINVAL);
}

TEST_F(SocketTcpTest, TurningSoLingerOffKeepsItsTime) {
  // Linux: l_onoff = 0 only clears the flag; the time set earlier still reads back.
  const int fd = tcp_socket(a);
  const linger on{1, 5};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_LINGER, &on, sizeof on), 0);
  const linger off{0, 9};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off), 0);
  linger l{};
  socklen_t len = sizeof l;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len), 0);
  EXPECT_EQ(l.l_onoff, 0);
  EXPECT_EQ(l.l_linger, 5);
}

TEST_F(SocketTcpTest, BufferSizesAreDoubledWithAMinimum) {
  const int fd = tcp_socket(a);
  ASSERT_EQ(set_int(a, fd, SOL_SOCKET, SO_RCVBUF, 4096), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_RCVBUF), 8192);
  ASSERT_EQ(set_int(a, fd, SOL_SOCKET, SO_SNDBUF, 4096), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_SNDBUF), 8192);
  ASSERT_EQ(set_int(a, fd, SOL_SOCKET, SO_RCVBUF, 1), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_RCVBUF), 2304);
  ASSERT_EQ(set_int(a, fd, SOL_SOCKET, SO_SNDBUF, 1), 0);
  EXPECT_EQ(int_option(a, fd, SOL_SOCKET, SO_SNDBUF), 4608);
}

std::string congestion(SocketApi& api, int fd) {
  char name[16] = {};
  socklen_t len = sizeof name;
  EXPECT_EQ(api.getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  return std::string(name, strnlen(name, sizeof name));
}

TEST_F(SocketTcpTest, TcpCongestionCubicAndReno) {
  const int fd = tcp_socket(a);
  ASSERT_EQ(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  EXPECT_EQ(congestion(a, fd), "reno");
  ASSERT_EQ(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5), 0);
  EXPECT_EQ(congestion(a, fd), "cubic");
}

TEST_F(SocketTcpTest, TcpCongestionWithAnUnknownNameIsEnoent) {
  // Linux: "newreno" is not a name the kernel knows (its NewReno is called "reno").
  const int fd = tcp_socket(a);
  ASSERT_EQ(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  EXPECT_ERRNO(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "vegas-nope", 10), ENOENT);
  EXPECT_ERRNO(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), ENOENT);
  EXPECT_EQ(congestion(a, fd), "reno");
}

TEST_F(SocketTcpTest, TcpCongestionWithAnEmptyNameIsEinval) {
  const int fd = tcp_socket(a);
  EXPECT_ERRNO(a.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "", 0), EINVAL);
}

TEST_F(SocketTcpTest, UnknownOptionsAreEnoprotoopt) {
  const int fd = tcp_socket(a);
  int v = 1;
  socklen_t len = sizeof v;
  EXPECT_ERRNO(set_int(a, fd, IPPROTO_TCP, 999, 1), ENOPROTOOPT);
  EXPECT_ERRNO(a.getsockopt(fd, IPPROTO_TCP, 999, &v, &len), ENOPROTOOPT);
  EXPECT_ERRNO(set_int(a, fd, SOL_SOCKET, 999, 1), ENOPROTOOPT);
  EXPECT_ERRNO(a.getsockopt(fd, SOL_SOCKET, 999, &v, &len), ENOPROTOOPT);
}

TEST_F(SocketTcpTest, AnIntegerOptionShorterThanAnIntIsEinval) {
  const int fd = tcp_socket(a);
  const char one = 1;
  EXPECT_ERRNO(a.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, 1), EINVAL);
}

}  // namespace
}  // namespace ustack::test
