// UDP (RFC 768, RFC 1122 4.1) against a fake neighbour that builds every datagram by hand:
// malformed ones are dropped with a named counter and never answered, good ones reach the right
// socket (demux by address, port and peer) with their sender, closed ports earn one rate-limited
// port unreachable (never for a broadcast), what the stack sends is checksummed, and ICMP errors
// about our datagrams reach connected sockets as errno values.
#include <gtest/gtest.h>
#include <poll.h>

#include "stack/runtime.h"
#include "stack/wire/udp.h"
#include "support/neighbour.h"
#include "support/socket_pair.h"

namespace ustack::test {
namespace {

using wire::IcmpType;
using wire::UdpHeader;

constexpr std::uint8_t kUdp = 17;

// A UDP datagram (header and data) with its checksum computed for src -> dst.
Bytes udp_bytes(Ipv4Address src, Ipv4Address dst, std::uint16_t sport, std::uint16_t dport,
                std::span<const std::uint8_t> data) {
  Bytes d(UdpHeader::kSize);
  d.insert(d.end(), data.begin(), data.end());
  UdpHeader::emit(d, sport, dport, src, dst);
  return d;
}

// The same in an IPv4 datagram from the peer.
Bytes udp_from_peer(std::uint16_t sport, std::uint16_t dport, std::span<const std::uint8_t> data,
                    Ipv4Address dst = kStackIp, Ipv4Address src = kPeerIp) {
  return ipv4(ip_header(src, dst, kUdp), udp_bytes(src, dst, sport, dport, data));
}

class UdpInputTest : public ::testing::Test {
 protected:
  UdpInputTest() : runtime(n.stack(), n.clock()), api(runtime.api()) { n.resolve_peer(); }

  int bound_socket(Ipv4Address address, std::uint16_t port, bool reuse = false) {
    const int fd = api.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    EXPECT_GE(fd, 0);
    const int on = 1;
    if (reuse) {
      EXPECT_EQ(api.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
    }
    const sockaddr_in local = inet(address, port);
    EXPECT_EQ(api.bind(fd, sa(local), sizeof local), 0) << std::strerror(errno);
    return fd;
  }

  // Sends `datagram` and checks that exactly `reason` went up, nothing was sent back and
  // nothing reached the socket.
  void expect_drop(const Bytes& datagram, const std::string& reason, int fd,
                   MacAddress dst = kStackMac) {
    const CounterMap before = counters(n.stats());
    n.send_ip(datagram, dst);
    EXPECT_EQ(udp_drops_since(before, n.stats()), (CounterMap{{reason, 1}}));
    EXPECT_TRUE(n.sent().empty());
    EXPECT_FALSE(receive(api, fd));
  }

  // The port unreachables (and nothing else) the stack sent since the last call.
  std::vector<IpDatagram> port_unreachables() {
    std::vector<IpDatagram> out;
    for (IpDatagram& d : n.sent_ip()) {
      EXPECT_EQ(d.ip.protocol, 1);
      EXPECT_GE(d.payload.size(), 8u);
      if (d.payload.size() < 8) continue;
      EXPECT_EQ(d.payload[0], static_cast<std::uint8_t>(IcmpType::destination_unreachable));
      EXPECT_EQ(d.payload[1], 3);
      out.push_back(std::move(d));
    }
    return out;
  }

  Neighbour n;
  Runtime runtime;
  SocketApi& api;
};

// ---------------------------------------------------------------------------------------------
// Good datagrams

TEST_F(UdpInputTest, DeliveredWithTheSender) {
  const int fd = bound_socket(kStackIp, 5000);
  const CounterMap before = counters(n.stats());
  n.send_ip(udp_from_peer(4000, 5000, pattern(100)));
  auto got = receive(api, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(100));
  EXPECT_EQ(got->from, (Endpoint{kPeerIp, 4000}));
  EXPECT_EQ(udp_drops_since(before, n.stats()), CounterMap{});
  EXPECT_EQ(n.counter("udp.delivered"), 1u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(UdpInputTest, ZeroChecksumIsAccepted) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, pattern(33));
  wire::store_be16(&d[6], 0);
  n.send_ip(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d));
  auto got = receive(api, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(33));
}

TEST_F(UdpInputTest, IpPayloadPastTheUdpLengthIsNotData) {
  // RFC 768: the datagram ends at its length field; what follows in the IP payload is dropped.
  const int fd = bound_socket(Ipv4Address{}, 5000);
  Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, pattern(10));
  const Bytes extra = {1, 2, 3, 4, 5};
  d.insert(d.end(), extra.begin(), extra.end());
  n.send_ip(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d));
  auto got = receive(api, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(10));
}

TEST_F(UdpInputTest, FragmentedDatagramsAreReassembledInAnyOrder) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  const Bytes data = pattern(5000, 7);
  auto pieces = fragment(ip_header(kPeerIp, kStackIp, kUdp, 0x4242),
                         udp_bytes(kPeerIp, kStackIp, 4000, 5000, data), 1480);
  ASSERT_EQ(pieces.size(), 4u);
  std::reverse(pieces.begin(), pieces.end());
  for (const Bytes& p : pieces) n.send_ip(p);
  auto got = receive(api, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, data);
}

// ---------------------------------------------------------------------------------------------
// Malformed datagrams (CHECKLISTS.md, UDP)

TEST_F(UdpInputTest, BadChecksumIsDroppedWithoutAnAnswer) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, pattern(20));
  d[12] ^= 0x01;
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d), "udp.bad_checksum", fd);
  // A bad checksum to a closed port is not answered either: the port may be garbage.
  Bytes closed = udp_bytes(kPeerIp, kStackIp, 4000, 5001, pattern(20));
  closed[9] ^= 0x80;
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), closed), "udp.bad_checksum", fd);
}

TEST_F(UdpInputTest, LengthFieldBelowEight) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  for (std::uint16_t length : {std::uint16_t{0}, std::uint16_t{7}}) {
    SCOPED_TRACE(length);
    Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, pattern(20));
    wire::store_be16(&d[4], length);
    wire::store_be16(&d[6], 0);  // no checksum, so only the length can be wrong
    expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d), "udp.bad_length", fd);
  }
}

TEST_F(UdpInputTest, LengthFieldPastTheIpPayload) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, pattern(20));
  wire::store_be16(&d[4], 29);
  wire::store_be16(&d[6], 0);
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d), "udp.bad_length", fd);
  wire::store_be16(&d[4], 0xffff);
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), d), "udp.bad_length", fd);
}

TEST_F(UdpInputTest, ShorterThanAUdpHeader) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  const Bytes d = udp_bytes(kPeerIp, kStackIp, 4000, 5000, {});
  for (std::size_t size : {0u, 1u, 7u}) {
    SCOPED_TRACE(size);
    expect_drop(ipv4(ip_header(kPeerIp, kStackIp, kUdp), std::span(d).first(size)), "udp.short",
                fd);
  }
}

TEST_F(UdpInputTest, BroadcastOrMulticastSourceIsDropped) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  for (Ipv4Address src : {Ipv4Address::broadcast(), kSubnetBroadcast, Ipv4Address{224, 0, 0, 1}}) {
    SCOPED_TRACE(fmt::format("{}", src));
    expect_drop(udp_from_peer(4000, 5000, pattern(8), kStackIp, src), "ip.bad_source", fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Closed ports

TEST_F(UdpInputTest, AClosedPortEarnsAPortUnreachableQuotingTheDatagram) {
  const Bytes datagram = udp_from_peer(4000, 5001, pattern(40));
  const CounterMap before = counters(n.stats());
  n.send_ip(datagram);
  EXPECT_EQ(udp_drops_since(before, n.stats()), (CounterMap{{"udp.no_port", 1}}));
  auto errors = port_unreachables();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ip.src, kStackIp);
  EXPECT_EQ(errors[0].ip.dst, kPeerIp);
  // RFC 1812 4.3.2.3 / Linux: as much of the offending datagram as fits in 576 bytes.
  const Bytes quoted(errors[0].payload.begin() + 8, errors[0].payload.end());
  EXPECT_EQ(quoted, datagram);
}

TEST_F(UdpInputTest, PortUnreachablesAreRateLimited) {
  for (std::uint16_t i = 0; i < 100; ++i) {
    n.send_ip(udp_from_peer(4000, static_cast<std::uint16_t>(6000 + i), pattern(8)));
  }
  const std::size_t burst = port_unreachables().size();
  EXPECT_GE(burst, 1u);
  EXPECT_LE(burst, 20u);  // the error bucket's burst
  EXPECT_EQ(n.counter("udp.no_port"), 100u);
  EXPECT_EQ(n.counter("icmp.rate_limited"), 100u - burst);
  // The bucket refills with time.
  n.advance(1s);
  n.send_ip(udp_from_peer(4000, 5001, pattern(8)));
  EXPECT_EQ(port_unreachables().size(), 1u);
}

TEST_F(UdpInputTest, NoPortUnreachableForABroadcast) {
  // RFC 1122 4.1.3.1: never an ICMP error for a datagram to a broadcast address.
  for (Ipv4Address dst : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
    SCOPED_TRACE(fmt::format("{}", dst));
    const CounterMap before = counters(n.stats());
    n.send_ip(udp_from_peer(4000, 5001, pattern(8), dst), MacAddress::broadcast());
    EXPECT_EQ(udp_drops_since(before, n.stats()), (CounterMap{{"udp.no_port", 1}}));
    EXPECT_TRUE(n.sent().empty());
  }
  // Nor for a unicast IP datagram that came in a link-layer broadcast.
  n.send_ip(udp_from_peer(4000, 5001, pattern(8)), MacAddress::broadcast());
  EXPECT_TRUE(n.sent().empty());
}

// ---------------------------------------------------------------------------------------------
// Demux

TEST_F(UdpInputTest, AConnectedSocketOnlyHearsItsPeer) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  const sockaddr_in peer = inet(kPeerIp, 7);
  ASSERT_EQ(api.connect(fd, sa(peer), sizeof peer), 0);
  n.send_ip(udp_from_peer(7, 5000, pattern(8, 1)));
  n.send_ip(udp_from_peer(8, 5000, pattern(8, 2)));                      // another port
  n.send_ip(udp_from_peer(7, 5000, pattern(8, 3), kStackIp, kOtherIp));  // another host
  auto got = receive(api, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(8, 1));
  EXPECT_FALSE(receive(api, fd));
  // Nobody else listens on the port, so the strangers were told so (Linux does the same).
  EXPECT_EQ(n.counter("udp.no_port"), 2u);
}

TEST_F(UdpInputTest, TheMostSpecificSocketWins) {
  // With SO_REUSEADDR three sockets share port 5000: a wildcard, one bound to our address and
  // one connected to the peer's port 7. Each datagram goes to exactly one of them.
  const int wildcard = bound_socket(Ipv4Address{}, 5000, true);
  const int specific = bound_socket(kStackIp, 5000, true);
  const int connected = bound_socket(Ipv4Address{}, 5000, true);
  const sockaddr_in peer = inet(kPeerIp, 7);
  ASSERT_EQ(api.connect(connected, sa(peer), sizeof peer), 0);

  n.send_ip(udp_from_peer(7, 5000, pattern(8, 1)));  // the connected socket's peer
  n.send_ip(udp_from_peer(9, 5000, pattern(8, 2)));  // anyone else, to our address
  auto c = receive(api, connected);
  auto s = receive(api, specific);
  ASSERT_TRUE(c);
  ASSERT_TRUE(s);
  EXPECT_EQ(c->data, pattern(8, 1));
  EXPECT_EQ(s->data, pattern(8, 2));
  EXPECT_FALSE(receive(api, wildcard));
  EXPECT_FALSE(receive(api, connected));
  EXPECT_FALSE(receive(api, specific));
}

TEST_F(UdpInputTest, ABroadcastReachesEverySocketOnThePort) {
  const int one = bound_socket(Ipv4Address{}, 5000, true);
  const int two = bound_socket(Ipv4Address{}, 5000, true);
  const int elsewhere = bound_socket(Ipv4Address{}, 5001);
  n.send_ip(udp_from_peer(4000, 5000, pattern(30), kSubnetBroadcast), MacAddress::broadcast());
  for (int fd : {one, two}) {
    auto got = receive(api, fd);
    ASSERT_TRUE(got) << fd;
    EXPECT_EQ(got->data, pattern(30));
    EXPECT_EQ(got->from, (Endpoint{kPeerIp, 4000}));
  }
  EXPECT_FALSE(receive(api, elsewhere));
  // A socket bound to our unicast address does not hear broadcasts.
  const int specific = bound_socket(kStackIp, 5002);
  n.send_ip(udp_from_peer(4000, 5002, pattern(30), Ipv4Address::broadcast()),
            MacAddress::broadcast());
  EXPECT_FALSE(receive(api, specific));
}

// ---------------------------------------------------------------------------------------------
// Output

TEST_F(UdpInputTest, WhatTheStackSendsIsChecksummed) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  for (std::size_t size : {0u, 1u, 1472u}) {
    SCOPED_TRACE(size);
    ASSERT_EQ(send_to(api, fd, pattern(size, 3), {kPeerIp, 7}), static_cast<ssize_t>(size));
    n.poll();
    auto out = n.sent_ip();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ip.src, kStackIp);
    EXPECT_EQ(out[0].ip.dst, kPeerIp);
    EXPECT_EQ(out[0].ip.protocol, kUdp);
    auto h = UdpHeader::parse(out[0].payload, kStackIp, kPeerIp);
    ASSERT_TRUE(h);
    EXPECT_NE(h->checksum, 0);  // always generated (RFC 1122 4.1.3.4)
    EXPECT_EQ(h->src_port, 5000);
    EXPECT_EQ(h->dst_port, 7);
    EXPECT_EQ(h->length, 8 + size);
    EXPECT_EQ(Bytes(out[0].payload.begin() + 8, out[0].payload.end()), pattern(size, 3));
  }
}

TEST_F(UdpInputTest, ALargeDatagramLeavesInFragments) {
  const int fd = bound_socket(Ipv4Address{}, 5000);
  const Bytes data = pattern(65507, 9);
  ASSERT_EQ(send_to(api, fd, data, {kPeerIp, 7}), 65507);
  n.poll();
  auto out = n.sent_ip();
  EXPECT_EQ(out.size(), 45u);  // ceil(65515 / 1480)
  auto whole = reassemble(out);
  ASSERT_TRUE(whole);
  auto h = UdpHeader::parse(*whole, kStackIp, kPeerIp);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->length, 65515);
  EXPECT_EQ(Bytes(whole->begin() + 8, whole->end()), data);
}

// ---------------------------------------------------------------------------------------------
// ICMP errors about our datagrams

class UdpIcmpErrorTest : public UdpInputTest {
 protected:
  // A socket on port 5000 connected to the peer's port 7, after one datagram went out; `sent`
  // is that datagram as it left.
  void SetUp() override {
    fd = bound_socket(Ipv4Address{}, 5000);
    const sockaddr_in peer = inet(kPeerIp, 7);
    ASSERT_EQ(api.connect(fd, sa(peer), sizeof peer), 0);
    ASSERT_EQ(api.send(fd, "ping", 4, 0), 4);
    n.poll();
    auto out = n.sent_ip();
    ASSERT_EQ(out.size(), 1u);
    sent = out[0].whole();
  }

  // The peer's ICMP error quoting `quoted` (the whole datagram, as Linux does).
  void error_from_peer(std::uint8_t type, std::uint8_t code, const Bytes& quoted) {
    n.send_ip(ipv4(ip_header(kPeerIp, kStackIp), icmp(type, code, 0, quoted)));
  }

  int pending_error() {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(api.getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
  }

  int fd = -1;
  Bytes sent;
};

TEST_F(UdpIcmpErrorTest, PortUnreachableIsEconnrefusedOnce) {
  error_from_peer(3, 3, sent);
  EXPECT_EQ(n.counter("udp.icmp_error"), 1u);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(api.poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLERR);  // Linux: POLLERR alone, nothing to read
  char buf[8];
  EXPECT_EQ(api.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_EQ(api.recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(UdpIcmpErrorTest, ProtocolUnreachableIsEnoprotoopt) {
  // Linux's icmp_err_convert table.
  error_from_peer(3, 2, sent);
  EXPECT_EQ(pending_error(), ENOPROTOOPT);
}

TEST_F(UdpIcmpErrorTest, AnErrorAboutAnotherPortOrPeerIsIgnored) {
  Bytes other_port = sent;
  wire::store_be16(&other_port[20 + 2], 8);  // quoted destination port
  error_from_peer(3, 3, other_port);
  Bytes other_source = sent;
  wire::store_be16(&other_source[20], 5001);  // quoted source port
  error_from_peer(3, 3, other_source);
  EXPECT_EQ(pending_error(), 0);
  EXPECT_EQ(n.counter("udp.icmp_error"), 0u);
}

TEST_F(UdpIcmpErrorTest, AQuoteTooShortToNameTheSocketIsIgnored) {
  error_from_peer(3, 3, Bytes(sent.begin(), sent.begin() + 20 + 7));
  EXPECT_EQ(n.counter("icmp.bad_error"), 1u);
  EXPECT_EQ(pending_error(), 0);
}

TEST_F(UdpIcmpErrorTest, AnUnconnectedSocketIsNotTold) {
  // Linux without IP_RECVERR: an unconnected socket cannot tell which datagram failed.
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_EQ(api.connect(fd, &unspec, sizeof unspec), 0);
  error_from_peer(3, 3, sent);
  EXPECT_EQ(pending_error(), 0);
  char buf[8];
  EXPECT_EQ(api.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(send_to(api, fd, pattern(4), {kPeerIp, 7}), 4);
}

}  // namespace
}  // namespace ustack::test
