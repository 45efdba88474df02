// Named counters for everything the stack counts, above all every dropped packet.
//
// Each counter has a dotted name ("ip.bad_checksum") that ustackd prints on exit and tests read.
// Every drop goes through Stats::drop(), which counts it and logs it at debug level on the layer's
// logger: `break ustack::Stats::drop` in gdb stops on every packet the stack throws away.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "stack/base/fmt.h"
#include "stack/base/log.h"

namespace ustack {

// X(identifier, "dotted.name", layer)
#define USTACK_COUNTERS(X)                                                 \
  X(dev_rx_frames, "dev.rx_frames", dev)                                   \
  X(dev_tx_frames, "dev.tx_frames", dev)                                   \
  X(dev_tx_full, "dev.tx_full", dev)                                       \
  X(dev_rx_gso, "dev.rx_gso", dev)                                         \
  X(dev_tx_gso, "dev.tx_gso", dev)                                         \
  X(dev_bad_vnet_header, "dev.bad_vnet_header", dev)                       \
  X(dev_bad_gso, "dev.bad_gso", dev)                                       \
  X(dev_bad_csum_offset, "dev.bad_csum_offset", dev)                       \
  X(eth_rx, "eth.rx", eth)                                                 \
  X(eth_tx, "eth.tx", eth)                                                 \
  X(eth_runt, "eth.runt", eth)                                             \
  X(eth_oversize, "eth.oversize", eth)                                     \
  X(eth_not_for_us, "eth.not_for_us", eth)                                 \
  X(eth_unknown_type, "eth.unknown_type", eth)                             \
  X(eth_bad_source, "eth.bad_source", eth)                                 \
  X(arp_rx, "arp.rx", arp)                                                 \
  X(arp_tx_request, "arp.tx_request", arp)                                 \
  X(arp_tx_reply, "arp.tx_reply", arp)                                     \
  X(arp_short, "arp.short", arp)                                           \
  X(arp_bad_format, "arp.bad_format", arp)                                 \
  X(arp_bad_op, "arp.bad_op", arp)                                         \
  X(arp_bad_sender, "arp.bad_sender", arp)                                 \
  X(arp_not_for_us, "arp.not_for_us", arp)                                 \
  X(arp_unsolicited, "arp.unsolicited", arp)                               \
  X(arp_address_conflict, "arp.address_conflict", arp)                     \
  X(arp_cache_full, "arp.cache_full", arp)                                 \
  X(arp_queue_overflow, "arp.queue_overflow", arp)                         \
  X(arp_unresolved, "arp.unresolved", arp)                                 \
  X(arp_expired, "arp.expired", arp)                                       \
  X(ip_rx, "ip.rx", ip)                                                    \
  X(ip_tx, "ip.tx", ip)                                                    \
  X(ip_delivered, "ip.delivered", ip)                                      \
  X(ip_short, "ip.short", ip)                                              \
  X(ip_bad_version, "ip.bad_version", ip)                                  \
  X(ip_bad_header_length, "ip.bad_header_length", ip)                      \
  X(ip_bad_total_length, "ip.bad_total_length", ip)                        \
  X(ip_truncated, "ip.truncated", ip)                                      \
  X(ip_bad_checksum, "ip.bad_checksum", ip)                                \
  X(ip_bad_options, "ip.bad_options", ip)                                  \
  X(ip_bad_source, "ip.bad_source", ip)                                    \
  X(ip_not_for_us, "ip.not_for_us", ip)                                    \
  X(ip_unknown_protocol, "ip.unknown_protocol", ip)                        \
  X(ip_no_route, "ip.no_route", ip)                                        \
  X(ip_loopback_full, "ip.loopback_full", ip)                              \
  X(ip_too_big, "ip.too_big", ip)                                          \
  X(ip_frag_rx, "ip.frag_rx", ip)                                          \
  X(ip_frag_tx, "ip.frag_tx", ip)                                          \
  X(ip_reassembled, "ip.reassembled", ip)                                  \
  X(ip_frag_bad_offset, "ip.frag_bad_offset", ip)                          \
  X(ip_frag_bad_length, "ip.frag_bad_length", ip)                          \
  X(ip_frag_tiny, "ip.frag_tiny", ip)                                      \
  X(ip_frag_overlap, "ip.frag_overlap", ip)                                \
  X(ip_frag_duplicate, "ip.frag_duplicate", ip)                            \
  X(ip_frag_inconsistent, "ip.frag_inconsistent", ip)                      \
  X(ip_frag_too_many, "ip.frag_too_many", ip)                              \
  X(ip_frag_timeout, "ip.frag_timeout", ip)                                \
  X(ip_frag_evicted, "ip.frag_evicted", ip)                                \
  X(icmp_rx, "icmp.rx", icmp)                                              \
  X(icmp_tx, "icmp.tx", icmp)                                              \
  X(icmp_short, "icmp.short", icmp)                                        \
  X(icmp_bad_checksum, "icmp.bad_checksum", icmp)                          \
  X(icmp_echo_request, "icmp.echo_request", icmp)                          \
  X(icmp_echo_reply, "icmp.echo_reply", icmp)                              \
  X(icmp_broadcast_echo, "icmp.broadcast_echo", icmp)                      \
  X(icmp_unknown_type, "icmp.unknown_type", icmp)                          \
  X(icmp_error_rx, "icmp.error_rx", icmp)                                  \
  X(icmp_error_tx, "icmp.error_tx", icmp)                                  \
  X(icmp_bad_error, "icmp.bad_error", icmp)                                \
  X(icmp_source_quench, "icmp.source_quench", icmp)                        \
  X(icmp_rate_limited, "icmp.rate_limited", icmp)                          \
  X(icmp_reply_queue_full, "icmp.reply_queue_full", icmp)               \
  X(udp_rx, "udp.rx", udp)                                                 \
  X(udp_tx, "udp.tx", udp)                                                 \
  X(udp_delivered, "udp.delivered", udp)                                   \
  X(udp_short, "udp.short", udp)                                           \
  X(udp_bad_length, "udp.bad_length", udp)                                 \
  X(udp_bad_checksum, "udp.bad_checksum", udp)                             \
  X(udp_no_port, "udp.no_port", udp)                                       \
  X(udp_queue_full, "udp.queue_full", udp)                                 \
  X(udp_icmp_error, "udp.icmp_error", udp)                                 \
  X(tcp_short, "tcp.short", tcp)                                           \
  X(tcp_bad_offset, "tcp.bad_offset", tcp)                                 \
  X(tcp_bad_checksum, "tcp.bad_checksum", tcp)                             \
  X(tcp_bad_options, "tcp.bad_options", tcp) \
  X(tcp_rx, "tcp.rx", tcp) \
  X(tcp_tx, "tcp.tx", tcp) \
  X(tcp_rx_bytes, "tcp.rx_bytes", tcp) \
  X(tcp_not_unicast, "tcp.not_unicast", tcp) \
  X(tcp_no_connection, "tcp.no_connection", tcp) \
  X(tcp_listen_rst, "tcp.listen_rst", tcp) \
  X(tcp_listen_ack, "tcp.listen_ack", tcp) \
  X(tcp_listen_drop, "tcp.listen_drop", tcp) \
  X(tcp_accept_queue_full, "tcp.accept_queue_full", tcp) \
  X(tcp_syn_queue_full, "tcp.syn_queue_full", tcp) \
  X(tcp_syn_cookies_sent, "tcp.syn_cookies_sent", tcp) \
  X(tcp_syn_cookies_accepted, "tcp.syn_cookies_accepted", tcp) \
  X(tcp_active_opens, "tcp.active_opens", tcp) \
  X(tcp_passive_opens, "tcp.passive_opens", tcp) \
  X(tcp_established, "tcp.established", tcp) \
  X(tcp_bad_ack, "tcp.bad_ack", tcp) \
  X(tcp_rst_ignored, "tcp.rst_ignored", tcp) \
  X(tcp_rx_reset, "tcp.rx_reset", tcp) \
  X(tcp_tx_reset, "tcp.tx_reset", tcp) \
  X(tcp_syn_sent_drop, "tcp.syn_sent_drop", tcp) \
  X(tcp_zero_window_drop, "tcp.zero_window_drop", tcp) \
  X(tcp_out_of_window, "tcp.out_of_window", tcp) \
  X(tcp_trimmed, "tcp.trimmed", tcp) \
  X(tcp_syn_retransmitted, "tcp.syn_retransmitted", tcp) \
  X(tcp_paws, "tcp.paws", tcp) \
  X(tcp_rst_challenged, "tcp.rst_challenged", tcp) \
  X(tcp_syn_challenged, "tcp.syn_challenged", tcp) \
  X(tcp_challenge_ack, "tcp.challenge_ack", tcp) \
  X(tcp_challenge_ack_limited, "tcp.challenge_ack_limited", tcp) \
  X(tcp_invalid_ack_limited, "tcp.invalid_ack_limited", tcp) \
  X(tcp_no_ack, "tcp.no_ack", tcp) \
  X(tcp_data_after_fin, "tcp.data_after_fin", tcp) \
  X(tcp_data_after_close, "tcp.data_after_close", tcp) \
  X(tcp_ack_too_new, "tcp.ack_too_new", tcp) \
  X(tcp_ack_too_old, "tcp.ack_too_old", tcp) \
  X(tcp_bad_sack, "tcp.bad_sack", tcp) \
  X(tcp_dup_acks, "tcp.dup_acks", tcp) \
  X(tcp_fast_retransmits, "tcp.fast_retransmits", tcp) \
  X(tcp_retransmits, "tcp.retransmits", tcp) \
  X(tcp_rto, "tcp.rto", tcp) \
  X(tcp_timeout, "tcp.timeout", tcp) \
  X(tcp_window_probes, "tcp.window_probes", tcp) \
  X(tcp_sws_override, "tcp.sws_override", tcp) \
  X(tcp_keepalive_probes, "tcp.keepalive_probes", tcp) \
  X(tcp_delayed_acks, "tcp.delayed_acks", tcp) \
  X(tcp_ooo_full, "tcp.ooo_full", tcp) \
  X(tcp_out_of_order, "tcp.out_of_order", tcp) \
  X(tcp_icmp_ignored, "tcp.icmp_ignored", tcp) \
  X(tcp_icmp_error, "tcp.icmp_error", tcp) \
  X(tcp_time_wait_reopen, "tcp.time_wait_reopen", tcp)

enum class Counter : std::uint16_t {
#define USTACK_COUNTER_ENUM(id, name, layer) id,
  USTACK_COUNTERS(USTACK_COUNTER_ENUM)
#undef USTACK_COUNTER_ENUM
      count
};

constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::count);

std::string_view counter_name(Counter c);
log::Layer counter_layer(Counter c);

class Stats {
 public:
  void add(Counter c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
  std::uint64_t get(Counter c) const { return values_[static_cast<std::size_t>(c)]; }
  // By dotted name; 0 for a name that does not exist.
  std::uint64_t get(std::string_view name) const;

  // Counts a dropped packet under its reason and logs it at debug level.
  void drop(Counter reason, std::string_view detail = {});

  // As above, formatting the detail only when debug logging is on for the reason's layer.
  template <typename... Args>
  void drop(Counter reason, fmt::format_string<Args...> format, Args&&... args) {
    if (log::get(counter_layer(reason)).should_log(spdlog::level::debug)) {
      drop(reason, std::string_view(fmt::format(format, std::forward<Args>(args)...)));
    } else {
      drop(reason, std::string_view{});
    }
  }

  // Calls f(name, value) for every counter, in declaration order.
  template <typename F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < kCounterCount; ++i) f(counter_name(static_cast<Counter>(i)), values_[i]);
  }

  void reset() { values_.fill(0); }

 private:
  std::array<std::uint64_t, kCounterCount> values_{};
};

}  // namespace ustack
