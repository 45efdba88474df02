// Fuzzes TCP end to end: two Stacks over a MemoryLink, A the client and B a server listening on
// port 7, each with a small application that sends a known byte stream, reads the peer's, shuts
// down its side and closes. The input decides, frame by frame, what the link does with every
// frame in flight (pass, drop, duplicate, hold back, or mutate it), may forge segments of its
// own, pokes the applications, and advances a ManualClock. Everything is deterministic: an
// input replays exactly.
//
// After the input, the run is finished cleanly: every frame passes, the readers resume and the
// clock jumps from deadline to deadline (bounded), then the applications close everything and
// the clocks run on until both stacks are empty. Checks, beyond "no crash, no sanitizer report,
// no hang":
//  - bounded memory at every step: connections, timers, accept queues, buffers within limits;
//  - each connection's send sequence space in order (SND.UNA <= SND.NXT <= snd_max, no more in
//    flight than the send buffer holds, plus SYN and FIN);
//  - no livelock: frames may not keep flowing while the clock stands still;
//  - when the input only dropped, duplicated, held back or reordered frames (nothing TCP's
//    16-bit checksum might let through, nothing forged, nothing delivered after more than the
//    maximum segment lifetime, which TCP assumes no network exceeds), every byte each read is
//    the peer's stream at that offset, and if neither connection reported an error, both
//    streams arrived complete with their FINs;
//  - in every run, once the applications closed everything, both stacks end with no connection
//    left (TIME-WAIT, FIN-WAIT-2, retransmission limits all run out).
//
// Input layout. Everything is read from the front; bytes past the end read as 0, so every
// prefix of an input is an input, and the empty input is a clean run with no data.
//
//   header, 6 bytes
//     u8  bit 0 SACK off, bit 1 timestamps off, bit 2 window scaling off, bit 3 NewReno (else
//         CUBIC), bit 4 TCP_NODELAY on both, bit 5 keepalive on A (idle 5 s, 1 s, 3 probes),
//         bits 6-7 receive buffer of both: 64 KiB, 16 KiB, 4 KiB, 1 KiB
//     u8  bits 0-1 send buffer of both: 64 KiB, 16 KiB, 4 KiB, 2 KiB;
//         bits 2-3 MTU: 1500, 576, 296, 1280; bits 4-7 random seed of the stacks
//     u16 bytes A sends, u16 bytes B sends (big-endian, modulo kMaxData + 1)
//
//   then operations until the input ends; op = one byte, low 3 bits the kind, high 5 bits `hi`:
//     0 pass: deliver every frame in flight, both ways, in order
//     1 time: advance the clock by kSteps[hi] (one entry is "to the next deadline")
//     2 frame A->B, 3 frame B->A: u8 index (of the frames in flight that way, modulo their
//       number), then action hi:
//         0-3 pass, 4-5 drop, 6 duplicate (one copy now, one at the back), 7 hold (to the back)
//         8 flip a bit: u16 offset, u8 bit (checksums left alone)
//         9 overwrite: u16 offset, u8 n (1..8), n bytes, then fix the IP and TCP/UDP/ICMP sums
//         10 truncate the frame to u16 bytes (sums left alone)
//         11 truncate the TCP payload to u16 bytes (lengths and sums fixed)
//         12 replace the frame: u16 length, bytes
//         13 set a TCP field: u8 field (0 sport 1 dport 2 seq+= 3 ack+= 4 flags 5 window 6 urg
//            7 data offset), u32 value; sums fixed
//         14 replace the TCP options: u8 length (0..40), bytes; lengths and sums fixed
//         15 append to the TCP payload: u8 length, bytes; lengths and sums fixed
//         16 pass all that way, 17 drop all that way, 18 pass all that way but this one
//         (which stays first in line); others pass
//     4 inject to B, 5 inject to A (as if from the other side), kind (hi & 3):
//         0,1 a TCP segment; hi bit 2: seq = the target's RCV.NXT + value, bit 3: ack = the
//             target's SND.UNA (or snd_max) + value, bit 4: a timestamps option with TSval =
//             the target's TS.Recent + u8 (read after the urgent pointer) goes first.
//             u8 mode: bits 0-1 the four-tuple (0 the connection's, 1 a u16 source port,
//             2 u16 source and destination ports, 3 the connection's with the ports swapped),
//             bit 2 bad checksum, bit 3 ack from snd_max, bit 4 to the broadcast MAC;
//             [u16 ports]; u8 flags, u32 seq, u32 ack, u16 window, u16 urgent pointer,
//             u8 option length (0..40) and options, u8 payload length and payload
//         2 an ICMP error about the connection: u8 type, u8 code, u32 rest, u32 seq offset from
//           the target's SND.UNA, u8 quoted bytes (0..47)
//         3 a raw frame: u16 length, bytes
//     6 application, hi: 0/1 pause or resume A's/B's reading, 2/3 A/B shutdown(SHUT_WR) now,
//       4/5 A/B close now, 6/7 A/B abort, 8/9 A/B SO_RCVBUF = u8 * 256 (doubled, at least
//       2304, as setsockopt does), 10 B closes its listener, 11/12 A/B reads at most u8
//       bytes per call (0: as much as there is)
//     7 deliver the first hi/2 + 1 frames in flight one way (hi & 1: B->A)
//
// Debugging a reproducer: FUZZ_TCP_STACK_TRACE=1 prints every operation and the connections'
// states; USTACK_LOG=tcp=trace prints the stack's own log. Reproducers of bugs found so far are
// in regressions/fuzz_tcp_stack/ (ctest -L fuzz replays them); FUZZ_TCP_STACK_ALLOW (below) lets
// a fuzz run go on past two known ones while they wait for a fix.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "netdev/memory_link.h"
#include "stack/base/log.h"
#include "stack/stack.h"
#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/tcp.h"

namespace {

using namespace ustack;
using tcp::Seq;
using tcp::TcpSocket;
using tcp::TcpState;

constexpr MacAddress kMacA{0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
constexpr MacAddress kMacB{0x02, 0x00, 0x00, 0x00, 0x02, 0x02};
constexpr Ipv4Address kIpA{10, 1, 0, 1};
constexpr Ipv4Address kIpB{10, 1, 0, 2};
constexpr std::uint16_t kPort = 7;

constexpr std::size_t kMaxData = 20000;      // bytes each application sends at most
constexpr std::size_t kMaxOps = 4096;        // operations read from one input
constexpr std::size_t kInFlightLimit = 512;  // frames held on the link one way
// TcpConfig::msl: the link may hold a frame back this long and still count as a clean network.
constexpr Duration kMaxSegmentLifetime = 30s;
constexpr std::size_t kMaxConnections = 32;  // TcpConfig::max_connections here
constexpr std::size_t kSynBacklog = 8;       // TcpConfig::max_syn_backlog here
constexpr int kListenBacklog = 4;
// The clean-up: at most this much virtual time and this many rounds, and at most this many
// rounds in a row without the clock moving (frames bouncing back and forth for ever).
constexpr Duration kSettleTime = std::chrono::hours(1);
constexpr Duration kCloseTime = std::chrono::hours(3);
constexpr int kMaxRounds = 20000;
constexpr int kMaxStillRounds = 2000;

const Duration kSteps[32] = {
    0ms,
    1ms,
    2ms,
    5ms,
    10ms,
    20ms,
    40ms,
    50ms,
    100ms,
    200ms,
    250ms,
    500ms,
    999ms,
    1s,
    1001ms,
    1500ms,
    2s,
    3s,
    5s,
    7s,
    10s,
    15s,
    30s,
    60s,
    61s,
    120s,
    300s,
    600s,
    std::chrono::hours(1),
    std::chrono::hours(24 * 25),  // past RFC 7323's 24 days: TS.Recent goes stale
    200us,
    Duration::min(),  // to the earliest deadline of either stack
};

// The bytes the applications send: stream[i] of a pseudo-random table that does not repeat
// within kMaxData, so a byte at the wrong offset is noticed. B's stream starts further in.
std::array<std::uint8_t, 2 * kMaxData + 1024> g_pattern;
constexpr std::size_t kOffsetB = kMaxData + 512;
bool g_trace = false;
// To look for other bugs while known ones wait for a fix, FUZZ_TCP_STACK_ALLOW may list
// "sws_stall" and "ack_loop" (an ACK loop of PAWS drops): those are then not failures (see
// regressions/fuzz_tcp_stack/).
bool g_allow_sws_stall = false;
bool g_allow_ack_loop = false;

template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) {
  if (g_trace) fmt::print(stderr, "{}\n", fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void fail(const std::string& what) {
  fmt::print(stderr, "fuzz_tcp_stack: invariant violated: {}\n", what);
  std::fflush(stderr);
  __builtin_trap();
}

// The input, read from the front; past the end every read gives 0 (and bytes() fewer bytes).
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}
  bool empty() const { return rest_.empty(); }
  std::uint8_t u8() {
    if (rest_.empty()) return 0;
    const std::uint8_t v = rest_[0];
    rest_ = rest_.subspan(1);
    return v;
  }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  std::vector<std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, rest_.size());
    std::vector<std::uint8_t> out(rest_.begin(), rest_.begin() + static_cast<std::ptrdiff_t>(n));
    rest_ = rest_.subspan(n);
    return out;
  }

 private:
  std::span<const std::uint8_t> rest_;
};

// A frame on the link, and when its Stack sent it.
struct Frame {
  Packet packet;
  Instant sent;
};

// One end of the link as its Stack sees it: what the Stack transmits waits here, in flight,
// until the harness delivers it (into the MemoryLink, where the other Stack receives it),
// changes it or loses it.
class InFlight final : public NetDevice {
 public:
  // `stale` is set when a frame older than the maximum segment lifetime is delivered: TCP
  // relies on the network never doing that (RFC 9293 3.4.1), so the run is then no longer a
  // clean one.
  InFlight(NetDevice& inner, const Clock& clock, bool& stale)
      : inner_(inner), clock_(clock), stale_(stale) {}
  std::size_t receive(std::vector<Packet>& out, std::size_t max) override {
    return inner_.receive(out, max);
  }
  bool transmit(Packet frame) override {
    if (frames.size() >= kInFlightLimit) return false;
    frames.push_back({std::move(frame), clock_.now()});
    return true;
  }
  int fd() const override { return inner_.fd(); }
  std::size_t mtu() const override { return inner_.mtu(); }
  std::string_view name() const override { return inner_.name(); }

  // Hands a frame to the other end.
  void deliver(Frame frame) {
    if (clock_.now() - frame.sent > kMaxSegmentLifetime) stale_ = true;
    (void)inner_.transmit(std::move(frame.packet));
  }
  // A frame the harness made (forged, or mutated: the run is not clean anyway).
  void deliver(Packet packet) { (void)inner_.transmit(std::move(packet)); }

  std::deque<Frame> frames;

 private:
  NetDevice& inner_;
  const Clock& clock_;
  bool& stale_;
};

// --- frame surgery --------------------------------------------------------------------------

constexpr std::size_t kEth = wire::EthernetHeader::kSize;

// Where the IPv4 header and its payload sit in a frame, if it looks like IPv4 at all.
struct IpView {
  std::size_t ihl = 0;
  std::size_t end = 0;  // kEth + total length, clamped to the frame
  std::uint8_t protocol = 0;
  bool fragment = false;
};

std::optional<IpView> ip_view(const std::vector<std::uint8_t>& f) {
  if (f.size() < kEth + 20 || wire::load_be16(&f[12]) != 0x0800) return std::nullopt;
  IpView v;
  v.ihl = static_cast<std::size_t>(f[kEth] & 0x0fu) * 4;
  if (v.ihl < 20 || kEth + v.ihl > f.size()) return std::nullopt;
  v.end = std::min<std::size_t>(kEth + wire::load_be16(&f[kEth + 2]), f.size());
  if (v.end < kEth + v.ihl) return std::nullopt;
  v.protocol = f[kEth + 9];
  v.fragment = (wire::load_be16(&f[kEth + 6]) & 0x3fff) != 0;
  return v;
}

// Recomputes the IPv4 header checksum and the TCP, UDP or ICMP checksum, so that a mutation
// gets past them to the code behind.
void fix_checksums(std::vector<std::uint8_t>& f) {
  auto v = ip_view(f);
  if (!v) return;
  std::uint8_t* ip = &f[kEth];
  wire::store_be16(ip + 10, 0);
  wire::store_be16(ip + 10, wire::checksum(std::span<const std::uint8_t>(ip, v->ihl)));
  if (v->fragment) return;
  const std::size_t start = kEth + v->ihl;
  std::span<std::uint8_t> payload(f.data() + start, v->end - start);
  const Ipv4Address src = Ipv4Address::load(ip + 12);
  const Ipv4Address dst = Ipv4Address::load(ip + 16);
  std::size_t at = 0;
  bool pseudo = true;
  switch (v->protocol) {
    case 6:
      at = 16;
      break;
    case 17:
      at = 6;
      break;
    case 1:
      at = 2;
      pseudo = false;
      break;
    default:
      return;
  }
  if (payload.size() < at + 2) return;
  wire::store_be16(&payload[at], 0);
  wire::ChecksumAccumulator acc;
  if (pseudo) {
    wire::add_pseudo_header(acc, src, dst, v->protocol, static_cast<std::uint16_t>(payload.size()));
  }
  acc.add(payload);
  std::uint16_t sum = acc.finish();
  if (v->protocol == 17 && sum == 0) sum = 0xffff;
  wire::store_be16(&payload[at], sum);
}

// A TCP segment in a frame, taken apart: everything before the options, the options, the data.
struct TcpParts {
  std::vector<std::uint8_t> before;  // Ethernet + IP + the fixed 20 bytes of TCP
  std::vector<std::uint8_t> options;
  std::vector<std::uint8_t> payload;
};

std::optional<TcpParts> split_tcp(const std::vector<std::uint8_t>& f) {
  auto v = ip_view(f);
  if (!v || v->protocol != 6 || v->fragment) return std::nullopt;
  const std::size_t start = kEth + v->ihl;
  if (v->end < start + 20) return std::nullopt;
  const std::size_t doff = static_cast<std::size_t>(f[start + 12] >> 4) * 4;
  if (doff < 20 || start + doff > v->end) return std::nullopt;
  TcpParts p;
  p.before.assign(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(start + 20));
  p.options.assign(f.begin() + static_cast<std::ptrdiff_t>(start + 20),
                   f.begin() + static_cast<std::ptrdiff_t>(start + doff));
  p.payload.assign(f.begin() + static_cast<std::ptrdiff_t>(start + doff),
                   f.begin() + static_cast<std::ptrdiff_t>(v->end));
  return p;
}

// Puts a segment back together with consistent lengths and checksums (options padded with
// end-of-list bytes to a multiple of 4).
std::vector<std::uint8_t> join_tcp(TcpParts p) {
  p.options.resize(std::min<std::size_t>((p.options.size() + 3) / 4 * 4, 40), 0);
  std::vector<std::uint8_t> f = std::move(p.before);
  const std::size_t ihl = static_cast<std::size_t>(f[kEth] & 0x0fu) * 4;
  const std::size_t start = kEth + ihl;
  f[start + 12] =
      static_cast<std::uint8_t>(((20 + p.options.size()) / 4) << 4 | (f[start + 12] & 0x0f));
  f.insert(f.end(), p.options.begin(), p.options.end());
  f.insert(f.end(), p.payload.begin(), p.payload.end());
  if (f.size() - kEth > 0xffff) f.resize(kEth + 0xffff);
  wire::store_be16(&f[kEth + 2], static_cast<std::uint16_t>(f.size() - kEth));
  fix_checksums(f);
  return f;
}

std::vector<std::uint8_t> to_vector(const Packet& p) {
  return {p.bytes().begin(), p.bytes().end()};
}

// Ethernet + a 20-byte IPv4 header around `payload`, checksums filled in.
std::vector<std::uint8_t> make_frame(MacAddress src_mac, MacAddress dst_mac, Ipv4Address src,
                                     Ipv4Address dst, std::uint8_t protocol,
                                     const std::vector<std::uint8_t>& payload, std::uint16_t id) {
  std::vector<std::uint8_t> f(kEth + 20 + payload.size());
  wire::EthernetHeader eth;
  eth.dst = dst_mac;
  eth.src = src_mac;
  eth.ethertype = 0x0800;
  eth.emit(f.data());
  wire::Ipv4Header ip;
  ip.total_length = static_cast<std::uint16_t>(20 + payload.size());
  ip.identification = id;
  ip.dont_fragment = true;
  ip.protocol = protocol;
  ip.src = src;
  ip.dst = dst;
  ip.emit(&f[kEth]);
  std::copy(payload.begin(), payload.end(), f.begin() + kEth + 20);
  fix_checksums(f);
  return f;
}

// --- the applications ------------------------------------------------------------------------

// One side's application: sends `to_send` bytes of its stream, reads the peer's, shuts down its
// side when it has sent everything, and closes once it has also read the peer's FIN.
struct App {
  std::string name;
  std::shared_ptr<TcpSocket> socket;
  std::size_t to_send = 0;
  std::size_t sent = 0;
  std::size_t stream_offset = 0;       // where this side's bytes start in g_pattern
  std::size_t peer_stream_offset = 0;  // where the peer's do
  std::vector<std::uint8_t> received;
  bool paused = false;
  std::size_t read_chunk = 0;  // 0: as much as there is
  bool shut = false;
  bool eof = false;
  bool closed = false;
  int error = 0;  // the first error the connection reported
};

struct Run {
  Run(std::uint8_t options, std::uint8_t more)
      : link(kMtus[(more >> 2) & 3]),
        a_dev(link.a(), clock, tampered),
        b_dev(link.b(), clock, tampered),
        a(Rng(1 + (more >> 4)), config(options, more)),
        b(Rng(101 + (more >> 4)), config(options, more)) {
    a.set_now(clock.now());
    b.set_now(clock.now());
    ia = &a.add_interface(a_dev, interface_config(kMacA, kIpA));
    ib = &b.add_interface(b_dev, interface_config(kMacB, kIpB));
    nodelay = (options & 0x10) != 0;
    keepalive = (options & 0x20) != 0;
  }

  static constexpr std::size_t kMtus[4] = {1500, 576, 296, 1280};

  static StackConfig config(std::uint8_t options, std::uint8_t more) {
    static constexpr std::size_t kReceive[4] = {65536, 16384, 4096, 1024};
    static constexpr std::size_t kSend[4] = {65536, 16384, 4096, 2048};
    StackConfig c;
    c.arp.cache_size = 16;
    c.arp.pending_per_entry = 16;
    c.arp.reachable_time = 60s;
    c.arp.refresh_window = 10s;
    c.arp.retry_interval = 1s;
    c.arp.max_requests = 3;
    c.ipv4.reassembly.max_datagrams = 16;
    c.ipv4.reassembly.max_fragments = 64;
    c.ipv4.reassembly.memory_limit = 256 * 1024;
    c.tcp.sack = (options & 0x01) == 0;
    c.tcp.timestamps = (options & 0x02) == 0;
    c.tcp.window_scaling = (options & 0x04) == 0;
    c.tcp.congestion = (options & 0x08) != 0 ? tcp::CongestionAlgorithm::new_reno
                                             : tcp::CongestionAlgorithm::cubic;
    c.tcp.default_receive_buffer = kReceive[options >> 6];
    c.tcp.default_send_buffer = kSend[more & 3];
    c.tcp.max_connections = kMaxConnections;
    c.tcp.max_syn_backlog = kSynBacklog;
    return c;
  }
  static InterfaceConfig interface_config(MacAddress mac, Ipv4Address ip) {
    InterfaceConfig c;
    c.mac = mac;
    c.address = {ip, 24};
    return c;
  }

  ManualClock clock;
  MemoryLink link;
  InFlight a_dev;
  InFlight b_dev;
  Stack a;
  Stack b;
  Interface* ia = nullptr;
  Interface* ib = nullptr;
  bool nodelay = false;
  bool keepalive = false;

  std::shared_ptr<TcpSocket> listener;
  App app_a;
  App app_b;
  // Something TCP cannot be expected to notice happened (a mutated or forged frame), or an
  // application gave up early: the streams need not arrive whole.
  bool tampered = false;
  bool disrupted = false;
  std::uint16_t next_ip_id = 1;
  int ack_loops = 0;  // allowed by FUZZ_TCP_STACK_ALLOW=ack_loop and cut
  std::uint64_t ops = 0;

  std::uint16_t a_port() const { return app_a.socket ? app_a.socket->local.port : 0; }

  // The connection of the stack `to` (0 = A, 1 = B) with the other, if there is one now.
  TcpSocket* connection(int to) {
    const std::uint16_t port = a_port();
    if (port == 0) return nullptr;
    if (to == 0) return a.tcp().find({kIpA, port}, {kIpB, kPort});
    return b.tcp().find({kIpB, kPort}, {kIpA, port});
  }

  void poll() {
    a.poll(clock.now());
    b.poll(clock.now());
  }

  void start() {
    poll();
    listener = b.tcp().make_socket();
    if (b.tcp().bind(listener, {kIpB, kPort}) != 0 ||
        b.tcp().listen(listener, kListenBacklog) != 0) {
      fail("B cannot listen");
    }
    listener->nodelay = nodelay;
    app_a.name = "A";
    app_b.name = "B";
    app_a.stream_offset = app_b.peer_stream_offset = 0;
    app_b.stream_offset = app_a.peer_stream_offset = kOffsetB;
    app_a.socket = a.tcp().make_socket();
    app_a.socket->nodelay = nodelay;
    if (keepalive) {
      app_a.socket->keepalive = true;
      app_a.socket->keepalive_idle = 5s;
      app_a.socket->keepalive_interval = 1s;
      app_a.socket->keepalive_count = 3;
    }
    if (int e = a.tcp().connect(app_a.socket, {kIpB, kPort}); e != 0) {
      fail(fmt::format("A cannot connect: {}", e));
    }
    a.flush_devices();
  }

  // --- the applications' turn ---

  void pump(Stack& stack, App& app) {
    stack.set_now(clock.now());
    TcpSocket* s = app.socket.get();
    if (s == nullptr || app.closed) return;
    tcp::Tcp& t = stack.tcp();
    if (s->error != 0 && app.error == 0) {
      app.error = s->error;
      trace("  {}: error {}", app.name, app.error);
    }
    const TcpState st = s->state();
    const bool can_send = st == TcpState::established || st == TcpState::close_wait;
    if (can_send && !app.shut) {
      while (app.sent < app.to_send) {
        const std::size_t n = t.send(
            *s, std::span(g_pattern).subspan(app.stream_offset + app.sent, app.to_send - app.sent));
        if (n == 0) break;
        app.sent += n;
      }
      if (app.sent == app.to_send) {
        app.shut = true;
        s->shut_write = true;
        t.shutdown_write(*s);
      }
    }
    if (!app.paused) {
      std::uint8_t buf[4096];
      const std::size_t chunk = app.read_chunk == 0 ? sizeof buf : app.read_chunk;
      for (int i = 0; i < 64; ++i) {
        const std::size_t n = t.receive(*s, std::span(buf, chunk), false);
        if (n == 0) break;
        receive_check(app, std::span(buf, n));
      }
    }
    if (s->tcb.receive_buffer.readable() == 0 && s->tcb.fin_received && !app.eof) {
      app.eof = true;
      trace("  {}: end of stream after {} bytes", app.name, app.received.size());
    }
    // Done: both ways finished, or the connection is over (an error, or a RST in a closing
    // state) with nothing left to read.
    const bool over = s->state() == TcpState::closed && s->tcb.receive_buffer.readable() == 0;
    if ((app.eof && app.shut) || app.error != 0 || over) close_app(stack, app);
  }

  void receive_check(App& app, std::span<const std::uint8_t> got) {
    const std::size_t at = app.received.size();
    if (!tampered) {
      if (at + got.size() > kMaxData) {
        fail(fmt::format("{} read {} bytes, more than the peer can send", app.name,
                         at + got.size()));
      }
      const auto expected = std::span(g_pattern).subspan(app.peer_stream_offset + at, got.size());
      if (!std::equal(got.begin(), got.end(), expected.begin())) {
        fail(fmt::format("{} read wrong bytes at offset {} (+{}) without any tampering", app.name,
                         at, got.size()));
      }
    }
    if (app.received.size() < 4 * kMaxData)
      app.received.insert(app.received.end(), got.begin(), got.end());
  }

  void close_app(Stack& stack, App& app) {
    if (app.closed || !app.socket) return;
    stack.set_now(clock.now());
    trace("  {}: close in {}", app.name, app.socket->state());
    app.closed = true;
    stack.tcp().close(app.socket);
  }

  void abort_app(Stack& stack, App& app) {
    if (app.closed || !app.socket) return;
    stack.set_now(clock.now());
    trace("  {}: abort in {}", app.name, app.socket->state());
    app.closed = true;
    app.socket->orphan = true;
    stack.tcp().abort(*app.socket, 0);
  }

  void accept_all() {
    if (!listener) return;
    b.set_now(clock.now());
    while (auto c = b.tcp().accept(*listener)) {
      if (!app_b.socket && a_port() != 0 && c->remote == Endpoint{kIpA, a_port()}) {
        trace("  B: accepted {}", c->remote.port);
        app_b.socket = std::move(c);
      } else {
        // Not A's connection (a forged one that got through): closed at once.
        trace("  B: accepted and closes {}:{}", c->remote.address, c->remote.port);
        b.tcp().close(c);
      }
    }
  }

  void apps() {
    accept_all();
    pump(a, app_a);
    pump(b, app_b);
    a.flush_devices();
    b.flush_devices();
  }

  // --- invariants ---

  void check_socket(const char* who, const TcpSocket& s) {
    const tcp::Tcb& t = s.tcb;
    if (t.receive_buffer.readable() + t.receive_buffer.out_of_order_bytes() >
        t.receive_buffer.capacity()) {
      fail(fmt::format("{}: receive buffer holds {} + {} bytes of {}", who,
                       t.receive_buffer.readable(), t.receive_buffer.out_of_order_bytes(),
                       t.receive_buffer.capacity()));
    }
    if (t.send_buffer.size() > t.send_buffer.capacity()) {
      fail(fmt::format("{}: send buffer holds {} bytes of {}", who, t.send_buffer.size(),
                       t.send_buffer.capacity()));
    }
    if (s.state() == TcpState::closed || s.state() == TcpState::listen) return;
    if (!(t.snd_una <= t.snd_nxt && t.snd_nxt <= t.snd_max)) {
      fail(fmt::format("{} in {}: snd.una {} snd.nxt {} snd.max {} out of order", who, s.state(),
                       t.snd_una, t.snd_nxt, t.snd_max));
    }
    if (s.state() != TcpState::time_wait &&
        tcp::seq_offset(t.snd_una, t.snd_max) > t.send_buffer.size() + 2) {
      fail(fmt::format("{} in {}: {} bytes in flight but {} in the send buffer", who, s.state(),
                       tcp::seq_offset(t.snd_una, t.snd_max), t.send_buffer.size()));
    }
  }

  void check() {
    for (Stack* st : {&a, &b}) {
      const char* who = st == &a ? "A" : "B";
      if (st->tcp().connection_count() > kMaxConnections) {
        fail(fmt::format("{}: {} connections", who, st->tcp().connection_count()));
      }
      // Each connection has one timer; ARP entries and reassemblies one-shots.
      if (st->timers().size() > st->tcp().connection_count() + 64) {
        fail(fmt::format("{}: {} timers for {} connections", who, st->timers().size(),
                         st->tcp().connection_count()));
      }
    }
    if (listener && listener->accept_queue.size() > static_cast<std::size_t>(kListenBacklog) + 1) {
      fail(fmt::format("B: accept queue of {}", listener->accept_queue.size()));
    }
    if (app_a.socket) check_socket("A", *app_a.socket);
    if (app_b.socket) check_socket("B", *app_b.socket);
    for (int to = 0; to < 2; ++to) {
      if (TcpSocket* s = connection(to)) check_socket(to == 0 ? "A(conn)" : "B(conn)", *s);
    }
  }

  // --- the link ---

  InFlight& way(int dir) { return dir == 0 ? a_dev : b_dev; }

  void pass_all(int dir) {
    InFlight& d = way(dir);
    while (!d.frames.empty()) {
      Frame f = std::move(d.frames.front());
      d.frames.pop_front();
      d.deliver(std::move(f));
    }
  }

  void frame_op(Input& in, int dir, unsigned action) {
    InFlight& d = way(dir);
    const std::uint8_t index = in.u8();
    if (d.frames.empty()) return;
    const auto i = static_cast<std::ptrdiff_t>(index % d.frames.size());
    Frame frame = std::move(d.frames[static_cast<std::size_t>(i)]);
    d.frames.erase(d.frames.begin() + i);
    const Packet& p = frame.packet;
    trace("  frame {} #{} ({} bytes) action {}", dir == 0 ? "A>B" : "B>A", i, p.size(), action);
    std::vector<std::uint8_t> f;
    switch (action) {
      case 4:
      case 5:
        return;  // lost
      case 6:
        d.frames.push_back({p.clone(), frame.sent});
        return d.deliver(std::move(frame));
      case 7:
        d.frames.push_back(std::move(frame));
        return;
      case 8: {
        f = to_vector(p);
        const std::uint16_t offset = in.u16();
        const std::uint8_t bit = in.u8();
        if (!f.empty()) f[offset % f.size()] ^= static_cast<std::uint8_t>(1u << (bit & 7));
        break;
      }
      case 9: {
        f = to_vector(p);
        const std::uint16_t offset = in.u16();
        const std::size_t n = 1 + in.u8() % 8;
        const auto bytes = in.bytes(n);
        for (std::size_t k = 0; k < bytes.size() && !f.empty(); ++k) {
          f[(offset + k) % f.size()] = bytes[k];
        }
        fix_checksums(f);
        break;
      }
      case 10:
        f = to_vector(p);
        f.resize(std::min<std::size_t>(f.size(), in.u16()));
        break;
      case 11: {
        f = to_vector(p);
        const std::uint16_t length = in.u16();
        if (auto parts = split_tcp(f)) {
          parts->payload.resize(std::min<std::size_t>(parts->payload.size(), length));
          f = join_tcp(std::move(*parts));
        }
        break;
      }
      case 12: {
        const std::uint16_t length = in.u16();
        f = in.bytes(length % 1600);
        break;
      }
      case 13: {
        f = to_vector(p);
        const std::uint8_t field = in.u8();
        const std::uint32_t value = in.u32();
        if (auto parts = split_tcp(f)) {
          std::uint8_t* h = &parts->before[parts->before.size() - 20];
          switch (field % 8) {
            case 0:
              wire::store_be16(h, static_cast<std::uint16_t>(value));
              break;
            case 1:
              wire::store_be16(h + 2, static_cast<std::uint16_t>(value));
              break;
            case 2:
              wire::store_be32(h + 4, wire::load_be32(h + 4) + value);
              break;
            case 3:
              wire::store_be32(h + 8, wire::load_be32(h + 8) + value);
              break;
            case 4:
              h[13] = static_cast<std::uint8_t>(value);
              break;
            case 5:
              wire::store_be16(h + 14, static_cast<std::uint16_t>(value));
              break;
            case 6:
              wire::store_be16(h + 18, static_cast<std::uint16_t>(value));
              break;
            case 7:
              break;
          }
          f = join_tcp(std::move(*parts));
          if (field % 8 == 7) {
            // A data offset that need not match the options: the checksum still covers it.
            auto v = ip_view(f);
            if (v) f[kEth + v->ihl + 12] = static_cast<std::uint8_t>(value << 4);
            fix_checksums(f);
          }
        }
        break;
      }
      case 14: {
        f = to_vector(p);
        const std::size_t n = in.u8() % 41;
        auto options = in.bytes(n);
        if (auto parts = split_tcp(f)) {
          parts->options = std::move(options);
          f = join_tcp(std::move(*parts));
        }
        break;
      }
      case 15: {
        f = to_vector(p);
        const std::size_t n = in.u8();
        auto extra = in.bytes(n);
        if (auto parts = split_tcp(f)) {
          parts->payload.insert(parts->payload.end(), extra.begin(), extra.end());
          f = join_tcp(std::move(*parts));
        }
        break;
      }
      case 16:
        d.deliver(std::move(frame));
        return pass_all(dir);
      case 17:
        d.frames.clear();
        return;
      case 18:
        // Held back while everything else that way goes through: a long delay for one frame.
        pass_all(dir);
        d.frames.push_front(std::move(frame));
        return;
      default:
        return d.deliver(std::move(frame));
    }
    tampered = true;
    d.deliver(Packet::copy_of(f));
  }

  void inject(Input& in, int to, unsigned hi) {
    tampered = true;
    InFlight& d = way(1 - to);  // frames to `to` travel the other stack's way
    const MacAddress dst_mac = to == 0 ? kMacA : kMacB;
    const MacAddress src_mac = to == 0 ? kMacB : kMacA;
    const Ipv4Address dst_ip = to == 0 ? kIpA : kIpB;
    const Ipv4Address src_ip = to == 0 ? kIpB : kIpA;
    const std::uint16_t local_port = to == 0 ? a_port() : kPort;
    const std::uint16_t remote_port = to == 0 ? kPort : a_port();
    TcpSocket* conn = connection(to);
    const unsigned kind = hi & 3;
    if (kind == 3) {
      const std::uint16_t length = in.u16();
      trace("  inject raw {} bytes to {}", length % 1600, to == 0 ? "A" : "B");
      d.deliver(Packet::copy_of(in.bytes(length % 1600)));
      return;
    }
    if (kind == 2) {
      const std::uint8_t type = in.u8();
      const std::uint8_t code = in.u8();
      const std::uint32_t rest = in.u32();
      const std::uint32_t delta = in.u32();
      const std::size_t quoted = in.u8() % 48;
      const Seq seq = (conn ? conn->tcb.snd_una : Seq{0}) + delta;
      // The datagram the error is about: one of ours, to the peer.
      std::vector<std::uint8_t> inner(28);
      wire::Ipv4Header ip;
      ip.total_length = 40;
      ip.protocol = 6;
      ip.src = dst_ip;
      ip.dst = src_ip;
      ip.emit(inner.data());
      wire::store_be16(&inner[20], local_port);
      wire::store_be16(&inner[22], remote_port);
      wire::store_be32(&inner[24], seq.raw());
      inner.resize(quoted, 0);
      std::vector<std::uint8_t> icmp(8);
      icmp[0] = type;
      icmp[1] = code;
      wire::store_be32(&icmp[4], rest);
      icmp.insert(icmp.end(), inner.begin(), inner.end());
      trace("  inject ICMP {}/{} seq {} ({} quoted) to {}", type, code, seq, quoted,
            to == 0 ? "A" : "B");
      d.deliver(
          Packet::copy_of(make_frame(src_mac, dst_mac, src_ip, dst_ip, 1, icmp, next_ip_id++)));
      return;
    }
    // A TCP segment.
    const std::uint8_t mode = in.u8();
    std::uint16_t sport = remote_port;
    std::uint16_t dport = local_port;
    switch (mode & 3) {
      case 1:
        sport = in.u16();
        break;
      case 2:
        sport = in.u16();
        dport = in.u16();
        break;
      case 3:
        std::swap(sport, dport);
        break;
      default:
        break;
    }
    const std::uint8_t flags = in.u8();
    std::uint32_t seq = in.u32();
    std::uint32_t ack = in.u32();
    const std::uint16_t window = in.u16();
    const std::uint16_t urgent = in.u16();
    std::vector<std::uint8_t> options;
    if ((hi & 0x10) != 0) {
      const std::uint32_t tsval = (conn ? conn->tcb.ts_recent : 0) + in.u8();
      const std::uint32_t tsecr = conn ? conn->tcb.ts_offset : 0;
      options = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
      wire::store_be32(&options[4], tsval);
      wire::store_be32(&options[8], tsecr);
    }
    const std::size_t option_length = in.u8() % 41;
    auto more = in.bytes(option_length);
    options.insert(options.end(), more.begin(), more.end());
    options.resize(std::min<std::size_t>(options.size(), 40));
    const std::size_t payload_length = in.u8();
    auto payload = in.bytes(payload_length);
    if (conn && (hi & 0x04) != 0) seq += conn->tcb.rcv_nxt.raw();
    if (conn && (hi & 0x08) != 0) {
      ack += ((mode & 0x08) != 0 ? conn->tcb.snd_max : conn->tcb.snd_una).raw();
    }
    TcpParts parts;
    parts.before = make_frame(src_mac, (mode & 0x10) != 0 ? MacAddress::broadcast() : dst_mac,
                              src_ip, dst_ip, 6, std::vector<std::uint8_t>(20), next_ip_id++);
    std::uint8_t* h = &parts.before[kEth + 20];
    wire::store_be16(h, sport);
    wire::store_be16(h + 2, dport);
    wire::store_be32(h + 4, seq);
    wire::store_be32(h + 8, ack);
    h[12] = 5 << 4;
    h[13] = flags;
    wire::store_be16(h + 14, window);
    wire::store_be16(h + 18, urgent);
    parts.options = std::move(options);
    parts.payload = std::move(payload);
    std::vector<std::uint8_t> f = join_tcp(std::move(parts));
    if ((mode & 0x04) != 0) f[kEth + 20 + 16] ^= 0x01;
    trace("  inject TCP {} > {} flags {:#x} seq {} ack {} win {} to {}", sport, dport, flags, seq,
          ack, window, to == 0 ? "A" : "B");
    d.deliver(Packet::copy_of(f));
  }

  void app_op(Input& in, unsigned hi) {
    trace("  app op {}", hi);
    switch (hi) {
      case 0:
        app_a.paused = !app_a.paused;
        break;
      case 1:
        app_b.paused = !app_b.paused;
        break;
      case 2:
      case 3: {
        App& app = hi == 2 ? app_a : app_b;
        Stack& st = hi == 2 ? a : b;
        if (app.socket && !app.closed && !app.shut) {
          st.set_now(clock.now());
          app.to_send = app.sent;  // what was sent is all there is
          app.shut = true;
          app.socket->shut_write = true;
          st.tcp().shutdown_write(*app.socket);
        }
        break;
      }
      case 4:
      case 5:
        disrupted = true;
        close_app(hi == 4 ? a : b, hi == 4 ? app_a : app_b);
        break;
      case 6:
      case 7:
        disrupted = true;
        abort_app(hi == 6 ? a : b, hi == 6 ? app_a : app_b);
        break;
      case 8:
      case 9: {
        // As setsockopt(SO_RCVBUF) does it (stack/socket): doubled, at least 2304 bytes.
        const std::size_t bytes = std::max<std::size_t>(std::size_t{in.u8()} * 512, 2304);
        Stack& st = hi == 8 ? a : b;
        TcpSocket* s =
            hi == 8 ? app_a.socket.get() : (app_b.socket ? app_b.socket.get() : listener.get());
        if (s != nullptr) st.tcp().set_receive_buffer(*s, bytes);
        break;
      }
      case 10:
        if (listener) {
          disrupted = true;
          b.set_now(clock.now());
          b.tcp().close(listener);
          listener.reset();
        }
        break;
      case 11:
        app_a.read_chunk = in.u8();
        break;
      case 12:
        app_b.read_chunk = in.u8();
        break;
      default:
        break;
    }
  }

  void advance(Duration d) {
    if (d == Duration::min()) {
      const Instant next = std::min(a.next_deadline(), b.next_deadline());
      if (next != kNever && next > clock.now()) clock.set(next);
    } else {
      clock.advance(d);
    }
  }

  void step(Input& in) {
    const std::uint8_t op = in.u8();
    const unsigned hi = op >> 3;
    switch (op & 7) {
      case 0:
        trace("  pass all");
        pass_all(0);
        pass_all(1);
        break;
      case 1:
        advance(kSteps[hi]);
        trace("  time {}", clock.now());
        break;
      case 2:
      case 3:
        frame_op(in, (op & 7) - 2, hi);
        break;
      case 4:
      case 5:
        inject(in, (op & 7) == 4 ? 1 : 0, hi);
        break;
      case 6:
        app_op(in, hi);
        break;
      case 7: {
        InFlight& d = way(hi & 1);
        for (unsigned n = 0; n < hi / 2 + 1 && !d.frames.empty(); ++n) {
          Frame f = std::move(d.frames.front());
          d.frames.pop_front();
          d.deliver(std::move(f));
        }
        break;
      }
    }
    poll();
    apps();
    check();
  }

  void print_state(const char* when) {
    if (!g_trace) return;
    auto describe = [](const App& app) {
      if (!app.socket) return std::string("no socket");
      const tcp::Tcb& t = app.socket->tcb;
      return fmt::format(
          "{} sent {}/{} read {} eof {} shut {} closed {} error {} una {} nxt {} "
          "max {} rcv.nxt {}",
          t.state, app.sent, app.to_send, app.received.size(), app.eof, app.shut, app.closed,
          app.error, t.snd_una, t.snd_nxt, t.snd_max, t.rcv_nxt);
    };
    fmt::print(stderr, "{} at {}: A {}; B {}; connections {}/{}, in flight {}/{}\n", when,
               clock.now(), describe(app_a), describe(app_b), a.tcp().connection_count(),
               b.tcp().connection_count(), a_dev.frames.size(), b_dev.frames.size());
  }

  std::uint64_t paws_drops() const {
    return a.stats().get(Counter::tcp_paws) + b.stats().get(Counter::tcp_paws);
  }

  static bool readable(const App& app) {
    return app.socket && !app.closed && !app.paused &&
           app.socket->tcb.receive_buffer.readable() > 0;
  }

  // Every frame through, the clock from deadline to deadline, until `done` or `limit`.
  // Returns false if it ran out of rounds or time.
  template <typename Done>
  bool settle(Duration limit, Done done) {
    const Instant end = clock.now() + limit;
    int still = 0;
    std::uint64_t paws_at_start = 0;
    for (int round = 0; round < kMaxRounds; ++round) {
      const bool moving = !a_dev.frames.empty() || !b_dev.frames.empty();
      if (moving) {
        pass_all(0);
        pass_all(1);
        if (still++ == 0) paws_at_start = paws_drops();
        if (still > kMaxStillRounds) {
          print_state("livelock");
          const std::uint64_t paws = paws_drops() - paws_at_start;
          fmt::print(stderr, "fuzz_tcp_stack: {} PAWS drops in the last {} rounds\n", paws, still);
          if (g_allow_ack_loop && 2 * paws >= static_cast<std::uint64_t>(still)) {
            // Known (regressions/fuzz_tcp_stack/ack_loop_paws_*): the link loses the storm.
            fmt::print(stderr, "fuzz_tcp_stack: ACK loop at {}, frames dropped\n", clock.now());
            a_dev.frames.clear();
            b_dev.frames.clear();
            ++ack_loops;
            return false;
          }
          fail(fmt::format("frames still flowing after {} rounds without the clock moving, at {}",
                           still, clock.now()));
        }
      } else if (readable(app_a) || readable(app_b)) {
        // An application has more to read (one round reads a bounded amount): no time passes.
      } else {
        if (done()) return true;
        const Instant next = std::min(a.next_deadline(), b.next_deadline());
        if (next == kNever || next > end) return false;
        if (next > clock.now()) clock.set(next);
        still = 0;
      }
      poll();
      apps();
      check();
    }
    return false;
  }

  // A stall found by this fuzzer (regressions/fuzz_tcp_stack/sws_stall_*): data waits, the
  // peer's window is open but below what sender SWS avoidance will use (RFC 9293 3.8.6.2.1),
  // nothing is in flight and no timer is armed, and the receiver never announces the window it
  // has (its threshold for a window update is a whole MSS, not min(MSS, buffer / 2)).
  bool sws_stall(const App& app) const {
    if (!app.socket) return false;
    const tcp::Tcb& t = app.socket->tcb;
    const std::size_t in_flight = tcp::seq_offset(t.snd_una, t.snd_nxt);
    const bool stalled = t.send_buffer.size() > in_flight && t.snd_una == t.snd_max &&
                         t.snd_wnd > 0 && t.snd_wnd < t.snd_mss && t.snd_wnd < t.max_snd_wnd / 2;
    if (stalled) {
      fmt::print(stderr,
                 "fuzz_tcp_stack: {} stalled by sender SWS avoidance: {} bytes queued, window "
                 "{} < mss {} and < max window {} / 2\n",
                 app.name, t.send_buffer.size() - in_flight, t.snd_wnd, t.snd_mss, t.max_snd_wnd);
    }
    return stalled;
  }

  void finish_run() {
    app_a.paused = app_b.paused = false;
    print_state("input done");
    auto apps_done = [&] {
      return (app_a.closed || !app_a.socket) && (app_b.closed || !app_b.socket);
    };
    settle(kSettleTime, apps_done);
    print_state("settled");
    if (!tampered && !disrupted && ack_loops == 0) {
      const bool errors = app_a.error != 0 || app_b.error != 0;
      const bool complete = app_a.eof && app_b.eof && app_a.received.size() == app_b.sent &&
                            app_b.received.size() == app_a.sent && app_a.sent == app_a.to_send &&
                            app_b.sent == app_b.to_send;
      if (!errors && !complete) {
        // Both are looked at: each prints what it finds.
        const bool sws_a = sws_stall(app_a);
        const bool sws_b = sws_stall(app_b);
        if ((sws_a || sws_b) && g_allow_sws_stall) return;
        fail(
            fmt::format("clean link, no error, but the transfer did not complete: A sent {}/{} "
                        "read {} eof {}, B sent {}/{} read {} eof {}",
                        app_a.sent, app_a.to_send, app_a.received.size(), app_a.eof, app_b.sent,
                        app_b.to_send, app_b.received.size(), app_b.eof));
      }
    }
    // Everything closes; then nothing may stay behind.
    close_app(a, app_a);
    if (app_b.socket) close_app(b, app_b);
    if (listener) {
      b.set_now(clock.now());
      accept_all();
      b.tcp().close(listener);
      listener.reset();
    }
    a.flush_devices();
    b.flush_devices();
    auto empty = [&] { return a.tcp().connection_count() == 0 && b.tcp().connection_count() == 0; };
    // After an allowed ACK loop the clean-up was cut short: nothing more to check then.
    if (!settle(kCloseTime, empty) && ack_loops == 0) {
      print_state("not closed");
      fail(fmt::format("connections left after closing everything: A {} B {} at {}",
                       a.tcp().connection_count(), b.tcp().connection_count(), clock.now()));
    }
    if (a.timers().size() > 32 || b.timers().size() > 32) {
      fail(fmt::format("timers left with no connection: A {} B {}", a.timers().size(),
                       b.timers().size()));
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_levels("off");
  log::set_levels_from_env();
  g_trace = std::getenv("FUZZ_TCP_STACK_TRACE") != nullptr;
  if (const char* allow = std::getenv("FUZZ_TCP_STACK_ALLOW")) {
    const std::string_view list(allow);
    g_allow_sws_stall = list.find("sws_stall") != std::string_view::npos;
    g_allow_ack_loop = list.find("ack_loop") != std::string_view::npos;
  }
  // xorshift: a table that does not repeat within kMaxData.
  std::uint32_t x = 0x9e3779b9;
  for (auto& b : g_pattern) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t options = in.u8();
  const std::uint8_t more = in.u8();
  Run run(options, more);
  run.app_a.to_send = in.u16() % (kMaxData + 1);
  run.app_b.to_send = in.u16() % (kMaxData + 1);
  run.start();
  run.print_state("start");
  for (std::size_t i = 0; i < kMaxOps && !in.empty(); ++i) {
    run.step(in);
    run.print_state("after op");
  }
  run.finish_run();
  return 0;
}
