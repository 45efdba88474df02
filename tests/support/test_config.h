// The Stack configuration the layer and stack-to-stack tests assume, spelled out, so that a
// change of a default elsewhere does not silently change what the tests test.
#pragma once

#include "stack/stack.h"

namespace ustack::test {

inline StackConfig test_config() {
  StackConfig c;
  c.arp.cache_size = 256;
  c.arp.pending_per_entry = 16;
  c.arp.reachable_time = 60s;
  c.arp.refresh_window = 10s;
  c.arp.retry_interval = 1s;
  c.arp.max_requests = 3;
  c.ipv4.default_ttl = 64;
  c.ipv4.reassembly.timeout = 30s;
  c.ipv4.reassembly.memory_limit = 4 * 1024 * 1024;
  c.ipv4.reassembly.max_datagrams = 256;
  c.ipv4.reassembly.max_fragments = 128;
  c.icmp.errors_per_second = 100;
  c.icmp.error_burst = 20;
  c.icmp.echo_reply_queue = 64;
  c.icmp.answer_broadcast_echo = false;
  return c;
}

// Logging at info level prints a line per test; USTACK_LOG still turns it back on.
inline void quiet_logs() {
  static const bool once = [] {
    log::set_levels("warn");
    log::set_levels_from_env();
    return true;
  }();
  (void)once;
}

}  // namespace ustack::test
