// The socket API's calls, one by one, on misuse and on their documented edge cases: each returns
// what Linux returns and sets the errno Linux sets. The doubtful cases were checked against the
// kernel (a Python client in a network namespace with a veth at 10.1.0.1/24); the comments say
// where Linux's answer is surprising.
//
// Two stacks over a MemoryLink, A (10.1.0.1) and B (10.1.0.2), in ManualClock time; the sockets
// are used without blocking and the test steps both stacks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};
constexpr Ipv4Address kNotOurs{10, 1, 0, 99};
constexpr Ipv4Address kSubnetBroadcastA{10, 1, 0, 255};

Bytes prefix(const Bytes& b, std::size_t n) {
  return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(std::min(n, b.size())));
}

class SocketApiTest : public ::testing::Test {
 protected:
  explicit SocketApiTest(const ApiPairOptions& options = {}) : pair(options) {}

  // Steps until `fd` on `api` has a datagram queued (bounded), then reads it.
  std::optional<Received> receive_soon(SocketApi& api, int fd) {
    pollfd p{fd, POLLIN, 0};
    pair.run_until([&] { return api.poll(&p, 1, 0) > 0; }, 1s);
    return receive(api, fd);
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

// ---------------------------------------------------------------------------------------------
// socket()

TEST_F(SocketApiTest, SocketWithAnUnsupportedDomainIsEafnosupport) {
  EXPECT_ERRNO(a.socket(AF_INET6, SOCK_DGRAM, 0), EAFNOSUPPORT);
  EXPECT_ERRNO(a.socket(AF_UNIX, SOCK_DGRAM, 0), EAFNOSUPPORT);
  EXPECT_ERRNO(a.socket(AF_PACKET, SOCK_DGRAM, 0), EAFNOSUPPORT);
  EXPECT_ERRNO(a.socket(12345, SOCK_DGRAM, 0), EAFNOSUPPORT);
  EXPECT_ERRNO(a.socket(-1, SOCK_DGRAM, 0), EAFNOSUPPORT);
}

TEST_F(SocketApiTest, SocketWithABadTypeOrProtocol) {
  // Linux: a type below SOCK_MAX (11) that AF_INET does not offer is ESOCKTNOSUPPORT; past it,
  // or with an unknown flag bit, EINVAL.
  for (int type : {0, int{SOCK_RAW}, int{SOCK_RDM}, int{SOCK_SEQPACKET}, int{SOCK_DCCP}}) {
    SCOPED_TRACE(type);
    EXPECT_ERRNO(a.socket(AF_INET, type, 0), ESOCKTNOSUPPORT);
  }
  EXPECT_ERRNO(a.socket(AF_INET, 11, 0), EINVAL);
  EXPECT_ERRNO(a.socket(AF_INET, 12345, 0), EINVAL);
  EXPECT_ERRNO(a.socket(AF_INET, -1, 0), EINVAL);
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM | 0x100000, 0), EINVAL);
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM, 99), EPROTONOSUPPORT);
  // None of the failures took a descriptor.
  EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP), 0);
  EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 1);
}

TEST_F(SocketApiTest, SockNonblockMakesTheSocketNonBlocking) {
  const int blocking = a.socket(AF_INET, SOCK_DGRAM, 0);
  const int nonblocking = a.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(blocking, 0);
  ASSERT_GE(nonblocking, 0);
  EXPECT_EQ(a.fcntl(blocking, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(a.fcntl(nonblocking, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  char buf[16];
  EXPECT_ERRNO(a.recv(nonblocking, buf, sizeof buf, 0), EAGAIN);
  EXPECT_ERRNO(a.recvfrom(nonblocking, buf, sizeof buf, 0, nullptr, nullptr), EAGAIN);
}

// ---------------------------------------------------------------------------------------------
// EBADF

TEST_F(SocketApiTest, EveryCallOnADescriptorThatIsNotOpenIsEbadf) {
  const int closed = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(a.close(closed), 0);
  const sockaddr_in to = inet(kIpB, 7);
  char buf[8] = {};
  int v = 1;
  socklen_t len = sizeof v;
  sockaddr_in name{};
  socklen_t name_len = sizeof name;
  for (int fd : {closed, -1, 3, 1000, 65536, INT_MAX, INT_MIN}) {
    SCOPED_TRACE(fd);
    EXPECT_ERRNO(a.bind(fd, sa(to), sizeof to), EBADF);
    EXPECT_ERRNO(a.connect(fd, sa(to), sizeof to), EBADF);
    EXPECT_ERRNO(a.send(fd, buf, sizeof buf, 0), EBADF);
    EXPECT_ERRNO(a.sendto(fd, buf, sizeof buf, 0, sa(to), sizeof to), EBADF);
    EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, 0), EBADF);
    EXPECT_ERRNO(a.recvfrom(fd, buf, sizeof buf, 0, sa(name), &name_len), EBADF);
    EXPECT_ERRNO(a.shutdown(fd, SHUT_RDWR), EBADF);
    EXPECT_ERRNO(a.getsockname(fd, sa(name), &name_len), EBADF);
    EXPECT_ERRNO(a.getpeername(fd, sa(name), &name_len), EBADF);
    EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v), EBADF);
    EXPECT_ERRNO(a.getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len), EBADF);
    EXPECT_ERRNO(a.fcntl(fd, F_GETFL), EBADF);
    EXPECT_ERRNO(a.fcntl(fd, F_SETFL, O_NONBLOCK), EBADF);
    EXPECT_ERRNO(a.close(fd), EBADF);
  }
  // EBADF comes first, before the arguments are looked at (Linux looks up the fd first).
  EXPECT_ERRNO(a.bind(closed, nullptr, 0), EBADF);
  EXPECT_ERRNO(a.shutdown(closed, 99), EBADF);
  EXPECT_ERRNO(a.setsockopt(closed, 12345, 12345, nullptr, 0), EBADF);
}

TEST_F(SocketApiTest, CloseTwiceIsEbadf) {
  const int fd = udp_socket(a, kAny, 5000);
  EXPECT_EQ(a.close(fd), 0);
  EXPECT_ERRNO(a.close(fd), EBADF);
  // The port was released with the descriptor.
  const int again = udp_socket(a, kAny, 5000);
  EXPECT_EQ(again, fd);
}

// ---------------------------------------------------------------------------------------------
// bind()

TEST_F(SocketApiTest, BindTwiceIsEinval) {
  const int fd = udp_socket(a, kAny, 5000);
  const sockaddr_in other = inet(kIpA, 5001);
  EXPECT_ERRNO(a.bind(fd, sa(other), sizeof other), EINVAL);
  const sockaddr_in same = inet(kAny, 5000);
  EXPECT_ERRNO(a.bind(fd, sa(same), sizeof same), EINVAL);
  // An implicit bind (by sendto) counts too.
  const int implicit = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(send_to(a, implicit, pattern(4), {kIpB, 9}), 4);
  EXPECT_ERRNO(a.bind(implicit, sa(other), sizeof other), EINVAL);
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 5000}));
}

TEST_F(SocketApiTest, BindToAnAddressThatIsNotOursIsEaddrnotavail) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  for (Ipv4Address address : {kNotOurs, kIpB, Ipv4Address{192, 168, 1, 1}}) {
    SCOPED_TRACE(fmt::format("{}", address));
    const sockaddr_in to = inet(address, 5000);
    EXPECT_ERRNO(a.bind(fd, sa(to), sizeof to), EADDRNOTAVAIL);
  }
  // The failures left the socket unbound: a good bind still works.
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 0}));
  const sockaddr_in ours = inet(kIpA, 5000);
  EXPECT_EQ(a.bind(fd, sa(ours), sizeof ours), 0);
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kIpA, 5000}));
}

TEST_F(SocketApiTest, BindToAPortInUseIsEaddrinuse) {
  const int wildcard = udp_socket(a, kAny, 5000);
  const int specific = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = inet(kIpA, 5000);
  EXPECT_ERRNO(a.bind(specific, sa(to), sizeof to), EADDRINUSE);
  const sockaddr_in any = inet(kAny, 5000);
  EXPECT_ERRNO(a.bind(specific, sa(any), sizeof any), EADDRINUSE);

  // The other way round: a specific address first, then the wildcard.
  const int first = udp_socket(a, kIpA, 6000);
  const int second = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in any6000 = inet(kAny, 6000);
  EXPECT_ERRNO(a.bind(second, sa(any6000), sizeof any6000), EADDRINUSE);

  // The same port on the other stack is another host's business.
  udp_socket(b, kAny, 5000);

  // Closing frees the port.
  EXPECT_EQ(a.close(wildcard), 0);
  EXPECT_EQ(a.bind(specific, sa(to), sizeof to), 0);
  EXPECT_EQ(a.close(first), 0);
  EXPECT_EQ(a.bind(second, sa(any6000), sizeof any6000), 0);
}

TEST_F(SocketApiTest, SoReuseaddrOnBothSocketsLetsThemShareAPort) {
  const int on = 1;
  const int first = a.socket(AF_INET, SOCK_DGRAM, 0);
  const int second = a.socket(AF_INET, SOCK_DGRAM, 0);
  const int third = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(a.setsockopt(first, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  ASSERT_EQ(a.setsockopt(second, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  const sockaddr_in any = inet(kAny, 6001);
  ASSERT_EQ(a.bind(first, sa(any), sizeof any), 0);
  EXPECT_EQ(a.bind(second, sa(any), sizeof any), 0);
  // Without the option on the newcomer the port stays taken (Linux: EADDRINUSE).
  EXPECT_ERRNO(a.bind(third, sa(any), sizeof any), EADDRINUSE);

  // And the other way round: only the newcomer asking is not enough either.
  const int plain = udp_socket(a, kAny, 6002);
  (void)plain;
  const int late = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(a.setsockopt(late, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  const sockaddr_in any2 = inet(kAny, 6002);
  EXPECT_ERRNO(a.bind(late, sa(any2), sizeof any2), EADDRINUSE);
}

TEST_F(SocketApiTest, BindWithAShortAddressOrAnotherFamily) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = inet(kIpA, 5000);
  EXPECT_ERRNO(a.bind(fd, sa(to), sizeof to - 1), EINVAL);
  EXPECT_ERRNO(a.bind(fd, sa(to), 2), EINVAL);
  EXPECT_ERRNO(a.bind(fd, sa(to), 0), EINVAL);
  to.sin_family = AF_INET6;
  EXPECT_ERRNO(a.bind(fd, sa(to), sizeof to), EAFNOSUPPORT);
  EXPECT_ERRNO(a.bind(fd, nullptr, sizeof to), EFAULT);
  // A longer address is fine (sockaddr_storage, say).
  sockaddr_storage storage{};
  const sockaddr_in good = inet(kIpA, 5000);
  std::memcpy(&storage, &good, sizeof good);
  EXPECT_EQ(a.bind(fd, reinterpret_cast<sockaddr*>(&storage), sizeof storage), 0);
}

// ---------------------------------------------------------------------------------------------
// connect()

TEST_F(SocketApiTest, ConnectSetsThePeerAndTheLocalAddress) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in peer = inet(kIpB, 7);
  ASSERT_EQ(a.connect(fd, sa(peer), sizeof peer), 0);
  sockaddr_in name{};
  socklen_t len = sizeof name;
  ASSERT_EQ(a.getpeername(fd, sa(name), &len), 0);
  EXPECT_EQ(len, sizeof name);
  EXPECT_EQ(endpoint(name), (Endpoint{kIpB, 7}));
  // Linux binds an ephemeral port and takes the route's source address as the local one.
  const Endpoint local = local_endpoint(a, fd);
  EXPECT_EQ(local.address, kIpA);
  EXPECT_GE(local.port, 32768);
  EXPECT_LE(local.port, 60999);

  // Connecting again moves the association to the new peer, on the same local endpoint.
  const sockaddr_in other = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(other), sizeof other), 0);
  len = sizeof name;
  ASSERT_EQ(a.getpeername(fd, sa(name), &len), 0);
  EXPECT_EQ(endpoint(name), (Endpoint{kIpB, 9}));
  EXPECT_EQ(local_endpoint(a, fd), local);
}

TEST_F(SocketApiTest, ConnectToAfUnspecDissolvesTheAssociation) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  const sockaddr_in peer = inet(kIpB, 7);

  // Bound implicitly by connect: Linux gives back both the address and the port.
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(a.connect(fd, sa(peer), sizeof peer), 0);
  ASSERT_EQ(a.connect(fd, &unspec, sizeof unspec), 0);
  sockaddr_in name{};
  socklen_t len = sizeof name;
  EXPECT_ERRNO(a.getpeername(fd, sa(name), &len), ENOTCONN);
  EXPECT_ERRNO(a.send(fd, "x", 1, 0), EDESTADDRREQ);
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 0}));

  // An explicitly bound port stays; the address taken from the route goes.
  const int port_bound = udp_socket(a, kAny, 7000);
  ASSERT_EQ(a.connect(port_bound, sa(peer), sizeof peer), 0);
  EXPECT_EQ(local_endpoint(a, port_bound), (Endpoint{kIpA, 7000}));
  ASSERT_EQ(a.connect(port_bound, &unspec, sizeof unspec), 0);
  EXPECT_EQ(local_endpoint(a, port_bound), (Endpoint{kAny, 7000}));

  // An explicitly bound address and port both stay.
  const int both_bound = udp_socket(a, kIpA, 7001);
  ASSERT_EQ(a.connect(both_bound, sa(peer), sizeof peer), 0);
  ASSERT_EQ(a.connect(both_bound, &unspec, sizeof unspec), 0);
  EXPECT_EQ(local_endpoint(a, both_bound), (Endpoint{kIpA, 7001}));

  // AF_UNSPEC on a socket that was never connected is fine, and only the family is read
  // (Linux accepts an address length of 2).
  const int never = a.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_EQ(a.connect(never, &unspec, sizeof(sa_family_t)), 0);
  EXPECT_ERRNO(a.connect(never, &unspec, 1), EINVAL);

  // The dissolved socket can send to anyone again, and be connected again.
  EXPECT_EQ(send_to(a, fd, pattern(3), {kIpB, 9}), 3);
  ASSERT_EQ(a.connect(fd, sa(peer), sizeof peer), 0);
  EXPECT_EQ(a.send(fd, "x", 1, 0), 1);
}

TEST_F(SocketApiTest, ConnectWithAShortAddressOrAnotherFamily) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in peer = inet(kIpB, 7);
  EXPECT_ERRNO(a.connect(fd, sa(peer), 1), EINVAL);
  EXPECT_ERRNO(a.connect(fd, sa(peer), 8), EINVAL);
  EXPECT_ERRNO(a.connect(fd, sa(peer), sizeof peer - 1), EINVAL);
  peer.sin_family = AF_INET6;
  EXPECT_ERRNO(a.connect(fd, sa(peer), sizeof peer), EAFNOSUPPORT);
  EXPECT_ERRNO(a.connect(fd, nullptr, sizeof peer), EFAULT);
  sockaddr_in name{};
  socklen_t len = sizeof name;
  EXPECT_ERRNO(a.getpeername(fd, sa(name), &len), ENOTCONN);
}

TEST_F(SocketApiTest, ConnectToABroadcastAddressNeedsSoBroadcast) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  for (Ipv4Address address : {kSubnetBroadcastA, Ipv4Address::broadcast()}) {
    SCOPED_TRACE(fmt::format("{}", address));
    const sockaddr_in to = inet(address, 9);
    EXPECT_ERRNO(a.connect(fd, sa(to), sizeof to), EACCES);
  }
  const int on = 1;
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on), 0);
  const sockaddr_in to = inet(kSubnetBroadcastA, 9);
  EXPECT_EQ(a.connect(fd, sa(to), sizeof to), 0);
}

TEST_F(SocketApiTest, ConnectWithoutARouteIsEnetunreach) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in far = inet(Ipv4Address{192, 168, 7, 7}, 9);
  EXPECT_ERRNO(a.connect(fd, sa(far), sizeof far), ENETUNREACH);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, sa(far), sizeof far), ENETUNREACH);
}

// ---------------------------------------------------------------------------------------------
// send() and sendto()

TEST_F(SocketApiTest, SendingWithoutADestinationIsEdestaddrreq) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_ERRNO(a.send(fd, "x", 1, 0), EDESTADDRREQ);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, nullptr, 0), EDESTADDRREQ);
  const int bound = udp_socket(a, kAny, 5000);
  EXPECT_ERRNO(a.send(bound, "x", 1, 0), EDESTADDRREQ);
  EXPECT_ERRNO(a.send(bound, nullptr, 0, 0), EDESTADDRREQ);
}

TEST_F(SocketApiTest, SendtoWithABadAddress) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = inet(kIpB, 7);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, sa(to), sizeof to - 1), EINVAL);
  const sockaddr_in port0 = inet(kIpB, 0);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, sa(port0), sizeof port0), EINVAL);  // Linux too
  to.sin_family = AF_INET6;
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, sa(to), sizeof to), EAFNOSUPPORT);
  EXPECT_ERRNO(a.sendto(fd, nullptr, 1, 0, sa(to), sizeof to), EFAULT);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, MSG_OOB, sa(to), sizeof to), EOPNOTSUPP);
  // Linux would join MSG_MORE sends into one datagram; ustack refuses rather than send them
  // apart.
  to.sin_family = AF_INET;
  EXPECT_ERRNO(a.sendto(fd, "x", 1, MSG_MORE, sa(to), sizeof to), EOPNOTSUPP);
  // None of it bound the socket.
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 0}));
}

TEST_F(SocketApiTest, DatagramsLargerThan65507BytesAreEmsgsize) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const Bytes big(70000, 0x5a);
  const sockaddr_in to = inet(kIpB, 9);
  EXPECT_ERRNO(a.sendto(fd, big.data(), 65508, 0, sa(to), sizeof to), EMSGSIZE);
  EXPECT_ERRNO(a.sendto(fd, big.data(), big.size(), 0, sa(to), sizeof to), EMSGSIZE);
  EXPECT_EQ(a.sendto(fd, big.data(), 65507, 0, sa(to), sizeof to), 65507);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  EXPECT_ERRNO(a.send(fd, big.data(), 65508, 0), EMSGSIZE);
}

TEST_F(SocketApiTest, BroadcastWithoutSoBroadcastIsEacces) {
  const int receiver = udp_socket(b, kAny, 9);
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  for (Ipv4Address address : {kSubnetBroadcastA, Ipv4Address::broadcast()}) {
    SCOPED_TRACE(fmt::format("{}", address));
    EXPECT_ERRNO(send_to(a, fd, pattern(8), {address, 9}), EACCES);
  }
  int on = 0;
  socklen_t len = sizeof on;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, &len), 0);
  EXPECT_EQ(on, 0);  // off by default
  on = 1;
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on), 0);
  EXPECT_EQ(send_to(a, fd, pattern(8, 1), {kSubnetBroadcastA, 9}), 8);
  auto got = receive_soon(b, receiver);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(8, 1));
  EXPECT_EQ(got->from.address, kIpA);
}

TEST_F(SocketApiTest, SendAfterShutdownWriteIsEpipe) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  ASSERT_EQ(a.shutdown(fd, SHUT_WR), 0);
  EXPECT_ERRNO(a.send(fd, "x", 1, 0), EPIPE);
  EXPECT_ERRNO(a.sendto(fd, "x", 1, 0, sa(to), sizeof to), EPIPE);
}

TEST_F(SocketApiTest, SendtoOnAConnectedSocketMaySendElsewhere) {
  // Linux lets a connected UDP socket name another destination in sendto.
  const int one = udp_socket(b, kAny, 7);
  const int two = udp_socket(b, kAny, 9);
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in seven = inet(kIpB, 7);
  ASSERT_EQ(a.connect(fd, sa(seven), sizeof seven), 0);
  EXPECT_EQ(send_to(a, fd, pattern(5, 9), {kIpB, 9}), 5);
  EXPECT_EQ(a.send(fd, pattern(5, 7).data(), 5, 0), 5);
  auto at9 = receive_soon(b, two);
  auto at7 = receive_soon(b, one);
  ASSERT_TRUE(at9);
  ASSERT_TRUE(at7);
  EXPECT_EQ(at9->data, pattern(5, 9));
  EXPECT_EQ(at7->data, pattern(5, 7));
}

// ---------------------------------------------------------------------------------------------
// getsockname() and getpeername()

TEST_F(SocketApiTest, GetpeernameOnAnUnconnectedSocketIsEnotconn) {
  const int fd = udp_socket(a, kAny, 5000);
  sockaddr_in name{};
  socklen_t len = sizeof name;
  EXPECT_ERRNO(a.getpeername(fd, sa(name), &len), ENOTCONN);
}

TEST_F(SocketApiTest, GetsocknameBeforeAndAfterAnImplicitBind) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_EQ(local_endpoint(a, fd), (Endpoint{kAny, 0}));
  ASSERT_EQ(send_to(a, fd, pattern(1), {kIpB, 9}), 1);
  // sendto binds an ephemeral port in Linux's default range, on the wildcard address.
  const Endpoint local = local_endpoint(a, fd);
  EXPECT_EQ(local.address, kAny);
  EXPECT_GE(local.port, 32768);
  EXPECT_LE(local.port, 60999);
  // The same port is used for every later datagram.
  ASSERT_EQ(send_to(a, fd, pattern(1), {kIpB, 9}), 1);
  EXPECT_EQ(local_endpoint(a, fd), local);
}

TEST_F(SocketApiTest, GetsocknameTruncatesToTheCallersLength) {
  const int fd = udp_socket(a, kIpA, 0x1234);
  sockaddr_in name;
  std::memset(&name, 0xee, sizeof name);
  socklen_t len = 4;  // family and port only
  ASSERT_EQ(a.getsockname(fd, sa(name), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));  // the full size, as POSIX says
  EXPECT_EQ(name.sin_family, AF_INET);
  EXPECT_EQ(ntohs(name.sin_port), 0x1234);
  EXPECT_EQ(name.sin_addr.s_addr, 0xeeeeeeeeu);  // not written
}

TEST_F(SocketApiTest, EphemeralPortsAreRandomNotSequential) {
  // RFC 6056: ports a blind attacker cannot guess. 50 implicit binds in a row give 50 distinct
  // ports in the range, and (unlike a counter) almost never one right after the other.
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 50; ++i) {
    const int fd = udp_socket(a, kAny, 0);
    ports.push_back(local_endpoint(a, fd).port);
  }
  const std::set<std::uint16_t> distinct(ports.begin(), ports.end());
  EXPECT_EQ(distinct.size(), ports.size());
  int consecutive = 0;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    EXPECT_GE(ports[i], 32768);
    EXPECT_LE(ports[i], 60999);
    if (i > 0 && ports[i] == ports[i - 1] + 1) ++consecutive;
  }
  EXPECT_LE(consecutive, 1);
  // The spread covers much of the range, not a corner of it.
  const auto [lo, hi] = std::minmax_element(ports.begin(), ports.end());
  EXPECT_GT(*hi - *lo, 10000);

  // Another stack (another seed) picks other ports.
  std::vector<std::uint16_t> other;
  for (int i = 0; i < 50; ++i) other.push_back(local_endpoint(b, udp_socket(b, kAny, 0)).port);
  EXPECT_NE(other, ports);
}

// ---------------------------------------------------------------------------------------------
// setsockopt() and getsockopt()

TEST_F(SocketApiTest, UnknownOptionsAndLevelsAreEnoprotoopt) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  int v = 1;
  socklen_t len = sizeof v;
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, 9999, &v, sizeof v), ENOPROTOOPT);
  EXPECT_ERRNO(a.getsockopt(fd, SOL_SOCKET, 9999, &v, &len), ENOPROTOOPT);
  EXPECT_ERRNO(a.setsockopt(fd, 12345, SO_REUSEADDR, &v, sizeof v), ENOPROTOOPT);
  EXPECT_ERRNO(a.getsockopt(fd, 12345, SO_REUSEADDR, &v, &len), ENOPROTOOPT);
}

TEST_F(SocketApiTest, ShortOptionLengthIsEinval) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const int v = 1;
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, 0), EINVAL);
  const timeval tv{1, 0};
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv - 1), EINVAL);
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, 8), EINVAL);
  EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, nullptr, sizeof v), EFAULT);
}

TEST_F(SocketApiTest, TimeoutsWithMicrosecondsOutOfRangeAreEdom) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  for (suseconds_t usec : {suseconds_t{1000000}, suseconds_t{-1}, suseconds_t{5000000}}) {
    SCOPED_TRACE(usec);
    const timeval tv{1, usec};
    EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);
    EXPECT_ERRNO(a.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), EDOM);
  }
  const timeval ok{2, 999999};
  EXPECT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ok, sizeof ok), 0);
}

TEST_F(SocketApiTest, TimeoutsReadBackAsSet) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{};
  socklen_t len = sizeof tv;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
  EXPECT_EQ(len, sizeof tv);
  EXPECT_EQ(tv.tv_sec, 0);  // 0: wait forever, the default
  EXPECT_EQ(tv.tv_usec, 0);

  const timeval set{2, 500000};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &set, sizeof set), 0);
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &set, sizeof set), 0);
  for (int name : {SO_RCVTIMEO, SO_SNDTIMEO}) {
    tv = {};
    len = sizeof tv;
    ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, name, &tv, &len), 0);
    EXPECT_EQ(tv.tv_sec, 2);
    EXPECT_EQ(tv.tv_usec, 500000);
  }
  // A negative time means "do not wait" on Linux, and reads back as 0.
  const timeval negative{-1, 0};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &negative, sizeof negative), 0);
  tv = {7, 7};
  len = sizeof tv;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
}

TEST_F(SocketApiTest, ANegativeReceiveTimeoutDoesNotWait) {
  const int fd = udp_socket(a, kAny, 5000);
  const timeval negative{-1, 0};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &negative, sizeof negative), 0);
  // On a thread, so that a wrong answer (waiting) fails the test instead of hanging it.
  Background call(
      [&] {
        char buf[8];
        return static_cast<long>(a.recv(fd, buf, sizeof buf, 0));
      },
      [&] { pair.step(1h); });
  const CallResult r = call.result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, EAGAIN);
}

TEST_F(SocketApiTest, BufferSizesAreDoubledAndClampedLikeLinux) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  auto get = [&](int name) {
    int v = 0;
    socklen_t len = sizeof v;
    EXPECT_EQ(a.getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    EXPECT_EQ(len, sizeof v);
    return v;
  };
  auto set = [&](int name, int v) {
    EXPECT_EQ(a.setsockopt(fd, SOL_SOCKET, name, &v, sizeof v), 0);
    return get(name);
  };
  // Defaults: net.core.rmem_default / wmem_default.
  EXPECT_EQ(get(SO_RCVBUF), 212992);
  EXPECT_EQ(get(SO_SNDBUF), 212992);
  // Linux doubles the request to leave room for its bookkeeping…
  EXPECT_EQ(set(SO_RCVBUF, 100000), 200000);
  EXPECT_EQ(set(SO_SNDBUF, 100000), 200000);
  // …enforces a minimum (SOCK_MIN_RCVBUF 2304, SOCK_MIN_SNDBUF 4608)…
  EXPECT_EQ(set(SO_RCVBUF, 1000), 2304);
  EXPECT_EQ(set(SO_RCVBUF, 0), 2304);
  EXPECT_EQ(set(SO_SNDBUF, 1000), 4608);
  // …and caps the request at rmem_max / wmem_max (212992 on a stock kernel) before doubling.
  EXPECT_EQ(set(SO_RCVBUF, 1000000000), 2 * 212992);
  EXPECT_EQ(set(SO_SNDBUF, INT_MAX), 2 * 212992);
  // The value is read as unsigned: a negative request is a huge one, so it is capped too.
  EXPECT_EQ(set(SO_RCVBUF, -5), 2 * 212992);
  EXPECT_EQ(set(SO_SNDBUF, -1), 2 * 212992);
}

TEST_F(SocketApiTest, FlagOptionsReadBackAsZeroOrOne) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  for (int name : {SO_REUSEADDR, SO_BROADCAST, SO_KEEPALIVE}) {
    SCOPED_TRACE(name);
    int v = -1;
    socklen_t len = sizeof v;
    ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    EXPECT_EQ(v, 0);
    const int five = 5;
    ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, name, &five, sizeof five), 0);
    ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    EXPECT_EQ(v, 1);
    const int zero = 0;
    ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, name, &zero, sizeof zero), 0);
    ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    EXPECT_EQ(v, 0);
  }
}

TEST_F(SocketApiTest, SoTypeAndSoErrorOnAFreshSocket) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  int v = -1;
  socklen_t len = sizeof v;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
  EXPECT_EQ(v, SOCK_DGRAM);
  EXPECT_EQ(len, sizeof v);
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
  EXPECT_EQ(v, 0);
  // A short buffer gets the first bytes and the length that was written (Linux).
  unsigned char one = 0xee;
  len = 1;
  ASSERT_EQ(a.getsockopt(fd, SOL_SOCKET, SO_TYPE, &one, &len), 0);
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(one, SOCK_DGRAM);  // little-endian: the low byte
  EXPECT_ERRNO(a.getsockopt(fd, SOL_SOCKET, SO_TYPE, nullptr, &len), EFAULT);
}

// ---------------------------------------------------------------------------------------------
// fcntl()

TEST_F(SocketApiTest, FcntlTogglesONonblock) {
  const int fd = udp_socket(a, kAny, 5000);
  EXPECT_EQ(a.fcntl(fd, F_GETFL), O_RDWR);
  ASSERT_EQ(a.fcntl(fd, F_SETFL, a.fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  EXPECT_EQ(a.fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK);
  char buf[8];
  EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, 0), EAGAIN);
  ASSERT_EQ(a.fcntl(fd, F_SETFL, a.fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
  EXPECT_EQ(a.fcntl(fd, F_GETFL), O_RDWR);
  EXPECT_ERRNO(a.fcntl(fd, 12345), EINVAL);
}

// ---------------------------------------------------------------------------------------------
// shutdown()

TEST_F(SocketApiTest, ShutdownWithABadHowIsEinval) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  EXPECT_ERRNO(a.shutdown(fd, 3), EINVAL);
  EXPECT_ERRNO(a.shutdown(fd, -1), EINVAL);
  // The bad calls changed nothing.
  EXPECT_EQ(a.send(fd, "x", 1, 0), 1);
}

TEST_F(SocketApiTest, ShutdownOnAnUnconnectedSocketIsEnotconn) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_ERRNO(a.shutdown(fd, SHUT_RD), ENOTCONN);
  const int bound = udp_socket(a, kAny, 5000);
  EXPECT_ERRNO(a.shutdown(bound, SHUT_RDWR), ENOTCONN);
}

TEST_F(SocketApiTest, ShutdownReadMakesReceiveReturnZero) {
  const int fd = udp_socket(a, kAny, 5000);
  const sockaddr_in to = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  ASSERT_EQ(a.shutdown(fd, SHUT_RD), 0);
  // A blocking socket returns at once with 0: end of file.
  char buf[8];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), 0);
  EXPECT_EQ(a.send(fd, "x", 1, 0), 1);  // the other direction still works
}

TEST_F(SocketApiTest, PollAfterShutdownLikeLinux) {
  const int fd = udp_socket(a, kAny, 5000);
  const sockaddr_in to = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  pollfd p{fd, POLLIN | POLLOUT, 0};
  ASSERT_EQ(a.shutdown(fd, SHUT_RD), 0);
  ASSERT_EQ(a.poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN | POLLOUT);
  // Linux keeps POLLOUT after SHUT_WR (a send would not block: it fails at once with EPIPE),
  // and adds POLLHUP once both directions are shut.
  ASSERT_EQ(a.shutdown(fd, SHUT_WR), 0);
  ASSERT_EQ(a.poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN | POLLOUT | POLLHUP);
}

// ---------------------------------------------------------------------------------------------
// recv() and recvfrom()

TEST_F(SocketApiTest, NonBlockingReceiveOnAnEmptyQueueIsEagain) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  char buf[8];
  EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, 0), EAGAIN);
  // An unbound socket too.
  const int unbound = a.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  EXPECT_ERRNO(a.recv(unbound, buf, sizeof buf, 0), EAGAIN);
}

TEST_F(SocketApiTest, MsgDontwaitOnABlockingSocket) {
  const int fd = udp_socket(a, kAny, 5000);
  char buf[8];
  EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
  EXPECT_ERRNO(a.recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, nullptr, nullptr), EAGAIN);
  // It stays a blocking socket.
  EXPECT_EQ(a.fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  // And a datagram that arrives is read the same way.
  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(6), {kIpA, 5000}), 6);
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) == 1; }, 1s));
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, MSG_DONTWAIT), 6);
}

TEST_F(SocketApiTest, ReceiveReportsTheSender) {
  const int fd = udp_socket(a, kAny, 5000);
  const int sender = udp_socket(b, kIpB, 4321);
  ASSERT_EQ(send_to(b, sender, pattern(3), {kIpA, 5000}), 3);
  auto got = receive_soon(a, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from, (Endpoint{kIpB, 4321}));
  EXPECT_EQ(got->data, pattern(3));
}

TEST_F(SocketApiTest, MsgPeekLeavesTheDatagramQueued) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(10, 1), {kIpA, 5000}), 10);
  ASSERT_EQ(send_to(b, sender, pattern(20, 2), {kIpA, 5000}), 20);
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) == 1; }, 1s));
  pair.run_for(5ms);

  Bytes buf(100);
  sockaddr_in from{};
  socklen_t len = sizeof from;
  // Peeking twice, even with a short buffer, shows the same first datagram.
  ASSERT_EQ(a.recvfrom(fd, buf.data(), 4, MSG_PEEK, sa(from), &len), 4);
  EXPECT_EQ(prefix(buf, 4), prefix(pattern(10, 1), 4));
  ASSERT_EQ(a.recv(fd, buf.data(), buf.size(), MSG_PEEK), 10);
  EXPECT_EQ(endpoint(from).address, kIpB);
  // Then the reads take them in order.
  ASSERT_EQ(a.recv(fd, buf.data(), buf.size(), 0), 10);
  EXPECT_EQ(prefix(buf, 10), pattern(10, 1));
  ASSERT_EQ(a.recv(fd, buf.data(), buf.size(), 0), 20);
  EXPECT_EQ(prefix(buf, 20), pattern(20, 2));
  EXPECT_ERRNO(a.recv(fd, buf.data(), buf.size(), 0), EAGAIN);
}

TEST_F(SocketApiTest, AShortBufferTruncatesAndConsumesTheDatagram) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  const int sender = udp_socket(b);
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(send_to(b, sender, pattern(11, i), {kIpA, 5000}), 11);
  }
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) == 1; }, 1s));
  pair.run_for(5ms);

  Bytes buf(4, 0);
  // Without MSG_TRUNC: the bytes that fit, and the rest of the datagram is gone.
  EXPECT_EQ(a.recv(fd, buf.data(), buf.size(), 0), 4);
  EXPECT_EQ(buf, prefix(pattern(11, 0), 4));
  // With MSG_TRUNC: the datagram's real length (Linux), the same bytes copied, also consumed.
  EXPECT_EQ(a.recv(fd, buf.data(), buf.size(), MSG_TRUNC), 11);
  EXPECT_EQ(buf, prefix(pattern(11, 1), 4));
  // MSG_TRUNC with no buffer at all just measures the next datagram.
  EXPECT_EQ(a.recv(fd, nullptr, 0, MSG_TRUNC | MSG_PEEK), 11);
  EXPECT_EQ(a.recv(fd, nullptr, 0, MSG_TRUNC), 11);
  EXPECT_ERRNO(a.recv(fd, buf.data(), buf.size(), 0), EAGAIN);
}

TEST_F(SocketApiTest, DatagramBoundariesArePreserved) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  const int sender = udp_socket(b);
  const std::vector<std::size_t> sizes = {1, 2, 3, 100, 1472, 1473, 3000, 0, 7};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_EQ(send_to(b, sender, pattern(sizes[i], static_cast<std::uint32_t>(i)), {kIpA, 5000}),
              static_cast<ssize_t>(sizes[i]));
  }
  std::vector<Bytes> got;
  pair.run_until(
      [&] {
        while (auto r = receive(a, fd)) got.push_back(std::move(r->data));
        return got.size() == sizes.size();
      },
      1s);
  ASSERT_EQ(got.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i], pattern(sizes[i], static_cast<std::uint32_t>(i))) << i;
  }
}

TEST_F(SocketApiTest, ZeroLengthDatagrams) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  const int sender = udp_socket(b, kAny, 4000);
  const sockaddr_in to = inet(kIpA, 5000);
  EXPECT_EQ(b.sendto(sender, nullptr, 0, 0, sa(to), sizeof to), 0);
  EXPECT_EQ(b.sendto(sender, "", 0, 0, sa(to), sizeof to), 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) == 1; }, 1s));
  pair.run_for(5ms);
  // Each is a datagram of its own: read returns 0 (not EAGAIN), with the sender.
  for (int i = 0; i < 2; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    char buf[4];
    EXPECT_EQ(a.recvfrom(fd, buf, sizeof buf, 0, sa(from), &len), 0);
    EXPECT_EQ(endpoint(from), (Endpoint{kIpB, 4000}));
  }
  char buf[4];
  EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, 0), EAGAIN);
}

TEST_F(SocketApiTest, ReceiveArgumentErrors) {
  const int fd = udp_socket(a, kAny, 5000, SOCK_NONBLOCK);
  EXPECT_ERRNO(a.recv(fd, nullptr, 10, 0), EFAULT);
  char buf[4];
  EXPECT_ERRNO(a.recv(fd, buf, sizeof buf, MSG_OOB), EOPNOTSUPP);
}

// ---------------------------------------------------------------------------------------------
// poll()

TEST_F(SocketApiTest, PollReportsReadableWritableAndInvalid) {
  const int fd = udp_socket(a, kAny, 5000);
  const int closed = a.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(a.close(closed), 0);
  pollfd fds[4] = {{fd, POLLIN, 0}, {fd, POLLOUT, 0}, {closed, POLLIN, 0}, {-1, POLLIN, 0}};
  fds[3].revents = 0x7f;  // cleared, and not counted: negative descriptors are skipped

  ASSERT_EQ(a.poll(fds, 4, 0), 2);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLOUT);
  EXPECT_EQ(fds[2].revents, POLLNVAL);
  EXPECT_EQ(fds[3].revents, 0);

  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(5), {kIpA, 5000}), 5);
  ASSERT_TRUE(pair.run_until([&] { return a.poll(fds, 1, 0) == 1; }, 1s));
  EXPECT_EQ(fds[0].revents, POLLIN);
  pollfd both{fd, POLLIN | POLLOUT, 0};
  ASSERT_EQ(a.poll(&both, 1, 0), 1);
  EXPECT_EQ(both.revents, POLLIN | POLLOUT);
  // Reading empties it again.
  ASSERT_TRUE(receive(a, fd));
  ASSERT_EQ(a.poll(fds, 1, 0), 0);
  EXPECT_EQ(fds[0].revents, 0);
}

TEST_F(SocketApiTest, PollWithTimeoutZeroReturnsAtOnce) {
  const int fd = udp_socket(a, kAny, 5000);
  pollfd p{fd, POLLIN, 0};
  const Instant before = pair.clock().now();
  EXPECT_EQ(a.poll(&p, 1, 0), 0);
  EXPECT_EQ(a.poll(nullptr, 0, 0), 0);
  EXPECT_EQ(pair.clock().now(), before);
  EXPECT_ERRNO(a.poll(nullptr, 1, 0), EFAULT);
}

// ---------------------------------------------------------------------------------------------
// The descriptor table

class SmallTableTest : public SocketApiTest {
 protected:
  static ApiPairOptions small() {
    ApiPairOptions o;
    o.config.max_sockets = 4;
    return o;
  }
  SmallTableTest() : SocketApiTest(small()) {}
};

TEST_F(SmallTableTest, LowestFreeDescriptorFirstAndEmfileAtTheLimit) {
  for (int expected = 0; expected < 4; ++expected) {
    EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM, 0), expected);
  }
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM, 0), EMFILE);
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM, 0), EMFILE);
  // The other stack's table is its own.
  EXPECT_EQ(b.socket(AF_INET, SOCK_DGRAM, 0), 0);

  ASSERT_EQ(a.close(2), 0);
  ASSERT_EQ(a.close(0), 0);
  ASSERT_EQ(a.close(3), 0);
  EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM, 0), 0);
  EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM, 0), 2);
  EXPECT_EQ(a.socket(AF_INET, SOCK_DGRAM, 0), 3);
  EXPECT_ERRNO(a.socket(AF_INET, SOCK_DGRAM, 0), EMFILE);
}

}  // namespace
}  // namespace ustack::test
