// Every tcp.* counter has a case that makes it move: one table, each case run against a fresh
// stack and fake peer (support/tcp_peer.h). A case lists the counters it must move and by how
// much; every other drop counter (any layer) must stay where it was. A last test checks that
// each tcp.* counter has a case here, so a new counter cannot arrive untested.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "support/tcp_peer.h"

namespace ustack::test {
namespace {

// Counters that count traffic and events rather than a reason to drop something: a case may
// move these freely unless it lists them.
bool is_tcp_traffic(std::string_view name) {
  static const std::set<std::string, std::less<>> kTraffic = {"tcp.rx",
                                                              "tcp.tx",
                                                              "tcp.rx_bytes",
                                                              "tcp.active_opens",
                                                              "tcp.passive_opens",
                                                              "tcp.established",
                                                              "tcp.rx_reset",
                                                              "tcp.tx_reset",
                                                              "tcp.challenge_ack",
                                                              "tcp.dup_acks",
                                                              "tcp.fast_retransmits",
                                                              "tcp.retransmits",
                                                              "tcp.rto",
                                                              "tcp.timeout",
                                                              "tcp.window_probes",
                                                              "tcp.keepalive_probes",
                                                              "tcp.delayed_acks",
                                                              "tcp.out_of_order",
                                                              "tcp.icmp_error",
                                                              "tcp.syn_cookies_sent",
                                                              "tcp.syn_cookies_accepted",
                                                              "tcp.time_wait_reopen",
                                                              "tcp.syn_retransmitted"};
  return kTraffic.contains(name) || is_traffic_counter(name);
}

struct Case {
  std::string name;
  std::function<void(TcpPeer&, CounterMap&)> act;  // may reset `before` after its setup
  CounterMap expected;
  TcpPeerOptions options{};
};

wire::TcpHeader to_port(std::uint16_t port, std::uint8_t flags, Seq seq = Seq{1000},
                        Seq ack = Seq{0}) {
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = port;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = 65535;
  return h;
}

// An ICMP error from the peer quoting a TCP segment stack -> peer.
Bytes icmp_about(std::uint8_t type, std::uint8_t code, std::uint16_t stack_port,
                 std::uint16_t peer_port, Seq seq) {
  return icmp_quoting(type, code, 0, {kStackAddr, stack_port}, {kPeerAddr, peer_port}, seq);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  auto add = [&](std::string name, std::function<void(TcpPeer&, CounterMap&)> act,
                 CounterMap expected, TcpPeerOptions options = {}) {
    all.push_back(Case{std::move(name), std::move(act), std::move(expected), options});
  };
  auto reset = [](TcpPeer& p, CounterMap& before) { before = p.counters_now(); };

  // Parsing
  add("tcp.short", [](TcpPeer& p, CounterMap&) { p.inject_tcp(pattern(19)); },
      {{"tcp.short", 1}, {"tcp.rx", 1}});
  add("tcp.bad_offset",
      [](TcpPeer& p, CounterMap&) {
        Bytes s = tcp_bytes(to_port(80, tf::syn), {});
        s[12] = 0x40;  // 16 bytes of header
        fix_tcp_checksum(s);
        p.inject_tcp(s);
        s[12] = 0xf0;  // 60 bytes, longer than the segment
        fix_tcp_checksum(s);
        p.inject_tcp(s);
      },
      {{"tcp.bad_offset", 2}});
  add("tcp.bad_checksum",
      [](TcpPeer& p, CounterMap&) {
        Bytes s = tcp_bytes(to_port(80, tf::syn), pattern(10));
        s[25] ^= 1;
        p.inject_tcp(s);
      },
      {{"tcp.bad_checksum", 1}});
  add("tcp.bad_options",
      [](TcpPeer& p, CounterMap&) {
        p.inject_tcp(tcp_bytes_raw_options(to_port(80, tf::syn), Bytes{2, 0}, {}));
      },
      {{"tcp.bad_options", 1}});
  add("tcp.not_unicast",
      [](TcpPeer& p, CounterMap&) {
        const Ipv4Address bcast(10, 1, 0, 255);
        p.inject_tcp(tcp_bytes(to_port(80, tf::syn), {}, kPeerAddr, bcast), kPeerAddr, bcast);
      },
      {{"tcp.not_unicast", 1}});

  // No connection, LISTEN
  add("tcp.no_connection", [](TcpPeer& p, CounterMap&) { p.inject(to_port(9, tf::syn)); },
      {{"tcp.no_connection", 1}, {"tcp.tx_reset", 1}, {"tcp.tx", 1}, {"tcp.rx", 1}});
  add("tcp.listen_rst",
      [reset](TcpPeer& p, CounterMap& before) {
        p.listener(80);
        reset(p, before);
        p.inject(to_port(80, tf::rst));
      },
      {{"tcp.listen_rst", 1}, {"tcp.tx", 0}});
  add("tcp.listen_ack",
      [reset](TcpPeer& p, CounterMap& before) {
        p.listener(80);
        reset(p, before);
        p.inject(to_port(80, tf::ack, Seq{1}, Seq{2}));
      },
      {{"tcp.listen_ack", 1}, {"tcp.tx_reset", 1}});
  add("tcp.listen_drop",
      [reset](TcpPeer& p, CounterMap& before) {
        p.listener(80);
        reset(p, before);
        p.inject(to_port(80, tf::fin));
      },
      {{"tcp.listen_drop", 1}, {"tcp.tx", 0}});
  add("tcp.accept_queue_full",
      [reset](TcpPeer& p, CounterMap& before) {
        p.listener(90, 0);
        p.open(TcpState::established, Open::passive, {}, 90);  // accepted: queue empty again
        Conn queued = p.syn_received({}, 90);
        p.send_ack(queued);  // waits in the accept queue
        reset(p, before);
        p.inject(to_port(90, tf::syn));  // the queue is over its backlog of 0
      },
      {{"tcp.accept_queue_full", 1}, {"tcp.tx", 0}});
  TcpPeerOptions tiny_syn_queue;
  tiny_syn_queue.config.tcp.max_syn_backlog = 1;
  tiny_syn_queue.config.tcp.syn_cookies = false;
  add(
      "tcp.syn_queue_full",
      [reset](TcpPeer& p, CounterMap& before) {
        p.syn_received();
        reset(p, before);
        p.inject(to_port(80, tf::syn));
      },
      {{"tcp.syn_queue_full", 1}, {"tcp.tx", 0}}, tiny_syn_queue);
  TcpPeerOptions cookies;
  cookies.config.tcp.max_syn_backlog = 1;
  add(
      "tcp.syn_cookies",
      [reset](TcpPeer& p, CounterMap& before) {
        p.syn_received();
        reset(p, before);
        Conn c = p.syn_received();  // answered with a cookie
        p.send_ack(c);              // which comes back: ESTABLISHED
        EXPECT_EQ(p.state_of(c), TcpState::established);
      },
      {{"tcp.syn_cookies_sent", 1}, {"tcp.syn_cookies_accepted", 1}, {"tcp.established", 1}},
      cookies);

  // Opening
  add("tcp.active_opens",
      [](TcpPeer& p, CounterMap&) { p.open(TcpState::established, Open::active); },
      {{"tcp.active_opens", 1}, {"tcp.established", 1}, {"tcp.passive_opens", 0}});
  add("tcp.passive_opens",
      [](TcpPeer& p, CounterMap&) { p.open(TcpState::established, Open::passive); },
      {{"tcp.passive_opens", 1}, {"tcp.established", 1}, {"tcp.active_opens", 0}});
  add("tcp.bad_ack",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.syn_sent();
        reset(p, before);
        p.send_seg(c, tf::syn | tf::ack, c.peer_iss, c.stack_iss + 9, {});
      },
      {{"tcp.bad_ack", 1}, {"tcp.tx_reset", 1}});
  add("tcp.rst_ignored",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.syn_sent();
        reset(p, before);
        p.send_seg(c, tf::rst, c.peer_iss, Seq{0}, {});
      },
      {{"tcp.rst_ignored", 1}});
  add("tcp.syn_sent_drop",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.syn_sent();
        reset(p, before);
        p.send_seg(c, tf::ack, c.peer_iss, c.stack_iss + 1, {});
      },
      {{"tcp.syn_sent_drop", 1}});
  add("tcp.syn_retransmitted",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.syn_received();
        reset(p, before);
        p.send_seg(c, tf::syn, c.peer_iss, Seq{0}, {});
      },
      {{"tcp.syn_retransmitted", 1}});

  // Synchronized states
  add("tcp.rx_reset",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::rst, c.snd_nxt, Seq{0}, {});
      },
      {{"tcp.rx_reset", 1}, {"tcp.tx", 0}});
  add("tcp.out_of_window",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::ack, c.snd_nxt - 10, c.rcv_nxt, pattern(5));
      },
      {{"tcp.out_of_window", 1}, {"tcp.tx", 1}});
  add("tcp.invalid_ack_limited",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        // Two bare ACKs below the window within 500 ms: only the first is answered.
        p.send_seg(c, tf::ack, c.snd_nxt - 10, c.rcv_nxt, {});
        p.send_seg(c, tf::ack, c.snd_nxt - 10, c.rcv_nxt, {});
      },
      {{"tcp.out_of_window", 2}, {"tcp.invalid_ack_limited", 1}, {"tcp.tx", 1}});
  TcpPeerOptions small_buffer;
  small_buffer.config.tcp.default_receive_buffer = 1000;
  add(
      "tcp.trimmed",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.wscale = std::nullopt;
        Conn c = p.open(TcpState::established, Open::passive, o);
        reset(p, before);
        p.send_data(c, pattern(1200));
      },
      {{"tcp.trimmed", 1}, {"tcp.rx_bytes", 1000}}, small_buffer);
  add(
      "tcp.zero_window_drop",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.wscale = std::nullopt;
        Conn c = p.open(TcpState::established, Open::passive, o);
        p.send_data(c, pattern(1000));
        reset(p, before);
        p.send_data(c, pattern(10));
      },
      {{"tcp.zero_window_drop", 1}, {"tcp.rx_bytes", 0}}, small_buffer);
  add("tcp.paws",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.ts = true;
        Conn c = p.open(TcpState::established, Open::passive, o);
        reset(p, before);
        wire::TcpHeader h = p.header(c, tf::ack);
        h.options.timestamps->value -= 10;
        p.inject(h, pattern(10));
      },
      {{"tcp.paws", 1}, {"tcp.tx", 1}});
  add("tcp.rst_challenged",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::rst, c.snd_nxt + 1, Seq{0}, {});
      },
      {{"tcp.rst_challenged", 1}, {"tcp.challenge_ack", 1}, {"tcp.tx", 1}});
  add("tcp.syn_challenged",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::syn, c.snd_nxt, Seq{0}, {});
      },
      {{"tcp.syn_challenged", 1}, {"tcp.challenge_ack", 1}, {"tcp.tx", 1}});
  TcpPeerOptions one_challenge;
  one_challenge.config.tcp.challenge_ack_limit = 1;
  add(
      "tcp.challenge_ack_limited",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::syn, c.snd_nxt, Seq{0}, {});
        p.send_seg(c, tf::syn, c.snd_nxt, Seq{0}, {});
      },
      {{"tcp.syn_challenged", 2},
       {"tcp.challenge_ack", 1},
       {"tcp.challenge_ack_limited", 1},
       {"tcp.tx", 1}},
      one_challenge);
  add("tcp.no_ack",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::psh, c.snd_nxt, Seq{0}, pattern(5));
      },
      {{"tcp.no_ack", 1}, {"tcp.tx", 0}});
  add("tcp.ack_too_new",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::ack, c.snd_nxt, c.stack_nxt + 1, pattern(5));
      },
      {{"tcp.ack_too_new", 1}, {"tcp.tx", 1}});
  add("tcp.ack_too_old",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.wscale = std::nullopt;
        Conn c = p.open(TcpState::established, Open::passive, o);
        reset(p, before);
        // MAX.SND.WND is 65535: 70000 below SND.UNA is too old (RFC 5961 5.2).
        p.send_seg(c, tf::ack, c.snd_nxt, c.rcv_nxt - 70000, pattern(5));
      },
      {{"tcp.ack_too_old", 1}, {"tcp.challenge_ack", 1}, {"tcp.tx", 1}});
  add("tcp.data_after_fin",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::close_wait, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::ack, c.snd_nxt, c.rcv_nxt, pattern(5));
      },
      {{"tcp.data_after_fin", 1}});
  add("tcp.data_after_close",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        p.api().close(c.fd);
        const Seg fin = p.take_one();
        c.rcv_nxt = fin.end();
        p.send_ack(c);  // FIN-WAIT-2, orphaned
        reset(p, before);
        p.send_data(c, pattern(5));  // nobody will read it: RST
        const Seg r = p.take_one();
        EXPECT_TRUE(r.has(tf::rst));
        EXPECT_EQ(p.state_of(c), std::nullopt);
      },
      {{"tcp.data_after_close", 1}, {"tcp.tx_reset", 1}});
  add("tcp.out_of_order",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::ack, c.snd_nxt + 10, c.rcv_nxt, pattern(5));
      },
      {{"tcp.out_of_order", 1}, {"tcp.tx", 1}});
  add("tcp.ooo_full",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        // Islands of 10 bytes with holes between: 32 are kept, the 33rd refused.
        for (std::uint32_t i = 0; i < 33; ++i) {
          p.send_seg(c, tf::ack, c.snd_nxt + 20 + i * 20, c.rcv_nxt, pattern(10, i));
        }
      },
      {{"tcp.ooo_full", 1}, {"tcp.out_of_order", 32}, {"tcp.tx", 33}});
  add("tcp.delayed_acks",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_data(c, pattern(5));
        p.advance(40ms);
      },
      {{"tcp.delayed_acks", 1}, {"tcp.tx", 1}, {"tcp.rx_bytes", 5}});
  add("tcp.rx_tx",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        reset(p, before);
        p.send_data(c, pattern(300));
        p.write(c.fd, pattern(10));
      },
      {{"tcp.rx", 1}, {"tcp.tx", 1}, {"tcp.rx_bytes", 300}});

  // The sender
  add("tcp.bad_sack",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        p.write(c.fd, pattern(1000));
        const Seg d = p.take_one();
        reset(p, before);
        wire::TcpHeader h = p.header(c, tf::ack);
        h.options.sack_blocks[0] = {d.end(), d.seq()};              // left > right
        h.options.sack_blocks[1] = {d.end() + 100, d.end() + 200};  // beyond SND.NXT
        h.options.sack_count = 2;
        p.inject(h);
      },
      {{"tcp.bad_sack", 2}, {"tcp.dup_acks", 1}});
  add("tcp.fast_retransmits",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.sack = false;
        Conn c = p.open(TcpState::established, Open::passive, o);
        p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1);
        p.write(c.fd, pattern(5000));
        const auto segs = p.take();
        EXPECT_EQ(segs.size(), 4u);
        reset(p, before);
        for (int i = 0; i < 3; ++i) p.send_ack(c);  // three duplicates of SND.UNA
        const Seg r = p.take_one();
        EXPECT_EQ(r.seq(), segs[0].seq());
      },
      {{"tcp.dup_acks", 3}, {"tcp.fast_retransmits", 1}, {"tcp.retransmits", 1}});
  add("tcp.rto",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        p.write(c.fd, pattern(100));
        p.take();
        reset(p, before);
        EXPECT_TRUE(p.wait_segment(5s).has_value());
      },
      {{"tcp.rto", 1}, {"tcp.retransmits", 1}, {"tcp.tx", 1}});
  add("tcp.timeout",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.syn_sent();
        reset(p, before);
        p.run_for(std::chrono::hours(1));
        EXPECT_EQ(p.state_of(c), std::nullopt);
      },
      {{"tcp.timeout", 1}});
  add("tcp.window_probes",
      [reset](TcpPeer& p, CounterMap& before) {
        SynOptions o;
        o.wscale = std::nullopt;
        Conn c = p.open(TcpState::established, Open::passive, o);
        p.send_ack(c, 0);
        p.write(c.fd, pattern(100));
        reset(p, before);
        EXPECT_TRUE(p.wait_segment(5s).has_value());
      },
      {{"tcp.window_probes", 1}, {"tcp.tx", 1}});
  add("tcp.sws_override",
      [reset](TcpPeer& p, CounterMap& before) {
        // A window below half the largest offered, nothing in flight: the override timeout.
        SynOptions o;
        o.wscale = std::nullopt;
        Conn c = p.open(TcpState::established, Open::passive, o);
        p.send_ack(c, 1000);
        p.write(c.fd, pattern(5000));
        reset(p, before);
        const auto s = p.wait_segment(5s);
        ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->data.size(), 1000u);
      },
      {{"tcp.sws_override", 1}, {"tcp.tx", 1}, {"tcp.window_probes", 0}});
  add("tcp.keepalive_probes",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::passive);
        p.set_int(c.fd, SOL_SOCKET, SO_KEEPALIVE, 1);
        reset(p, before);
        EXPECT_TRUE(p.wait_segment(std::chrono::hours(3)).has_value());
      },
      {{"tcp.keepalive_probes", 1}, {"tcp.tx", 1}});
  add("tcp.time_wait_reopen",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::time_wait, Open::passive);
        reset(p, before);
        p.send_seg(c, tf::syn, c.snd_nxt + 1000, Seq{0}, {});
      },
      {{"tcp.time_wait_reopen", 1}, {"tcp.passive_opens", 1}});

  // ICMP
  add("tcp.icmp_ignored",
      [](TcpPeer& p, CounterMap&) { p.inject_ip(icmp_about(3, 1, 5555, 6666, Seq{1})); },
      {{"tcp.icmp_ignored", 1}});
  add("tcp.icmp_ignored_out_of_window",
      [reset](TcpPeer& p, CounterMap& before) {
        // RFC 5927 4.1: a quoted sequence number outside SND.UNA..SND.NXT is not ours.
        Conn c = p.open(TcpState::established, Open::active);
        reset(p, before);
        p.inject_ip(icmp_about(3, 3, c.local.port, c.remote.port, c.rcv_nxt + 5000));
        EXPECT_EQ(p.state_of(c), TcpState::established);
      },
      {{"tcp.icmp_ignored", 1}, {"tcp.icmp_error", 0}});
  add("tcp.icmp_error",
      [reset](TcpPeer& p, CounterMap& before) {
        Conn c = p.open(TcpState::established, Open::active);
        reset(p, before);
        // Host unreachable: a soft error (MUST-56), the connection lives.
        p.inject_ip(icmp_about(3, 1, c.local.port, c.remote.port, c.rcv_nxt));
        EXPECT_EQ(p.state_of(c), TcpState::established);
      },
      {{"tcp.icmp_error", 1}});
  return all;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class TcpCounters : public ::testing::TestWithParam<Case> {};

TEST_P(TcpCounters, MovesExactlyItsCounters) {
  const Case& c = GetParam();
  TcpPeer p(c.options);
  CounterMap before = p.counters_now();
  c.act(p, before);
  const CounterMap changed = changes_since(before, p.stack().stats());
  for (const auto& [name, n] : c.expected) {
    const auto it = changed.find(name);
    EXPECT_EQ(it == changed.end() ? 0u : it->second, n) << name;
  }
  for (const auto& [name, n] : changed) {
    if (is_tcp_traffic(name) || c.expected.contains(name)) continue;
    ADD_FAILURE() << name << " moved by " << n << " but the case does not expect it";
  }
}

INSTANTIATE_TEST_SUITE_P(AllTcpCounters, TcpCounters, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           std::string name = param.param.name;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

TEST(TcpCounterCoverage, EveryTcpCounterHasACase) {
  std::set<std::string> covered;
  for (const Case& c : cases()) {
    for (const auto& [name, n] : c.expected) {
      if (n > 0) covered.insert(name);
    }
  }
  Stats stats;
  stats.for_each([&](std::string_view name, std::uint64_t) {
    const std::string s(name);
    if (!s.starts_with("tcp.")) return;
    EXPECT_TRUE(covered.contains(s)) << s << " has no case in this file";
  });
}

}  // namespace
}  // namespace ustack::test
