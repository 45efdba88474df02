#include "stack/ip/reassembly.h"

#include <algorithm>

#include "stack/wire/checksum.h"

#include "stack/stack.h"

namespace ustack::ip {
namespace {

// The transport header a first fragment must hold whole (RFC 1858 section 3.1: otherwise the
// ports and TCP flags can be split off past a filter). RFC 791 guarantees 8 bytes for others.
std::uint32_t min_first_fragment(std::uint8_t protocol) {
  return protocol == static_cast<std::uint8_t>(wire::IpProtocol::tcp) ? 20 : 8;
}

}  // namespace

std::optional<ReassembledDatagram> Reassembler::add(Interface& iface,
                                                    const wire::Ipv4Header& header,
                                                    Packet payload) {
  Stats& stats = stack_.stats();
  stats.add(Counter::ip_frag_rx);
  const std::uint32_t offset = header.fragment_offset;
  const std::uint32_t length = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t end = offset + length;

  // RFC 791 3.2: every fragment but the last carries a whole number of 8-byte blocks.
  if (header.more_fragments && (length == 0 || length % 8 != 0)) {
    stats.drop(Counter::ip_frag_bad_length, "{}", header);
    return std::nullopt;
  }
  if (offset == 0 && header.more_fragments && length < min_first_fragment(header.protocol)) {
    stats.drop(Counter::ip_frag_tiny, "{}", header);
    return std::nullopt;
  }

  const Key key{header.src.to_u32(), header.dst.to_u32(), header.identification, header.protocol};
  auto found = by_key_.find(key);
  if (found == by_key_.end()) {
    if (by_serial_.size() >= config_.max_datagrams) {
      discard(by_serial_.begin(), Counter::ip_frag_evicted);
    }
    const std::uint64_t serial = next_serial_++;
    Datagram d;
    d.key = key;
    d.iface = &iface;
    d.expires_at = stack_.now() + config_.timeout;
    by_serial_.emplace(serial, std::move(d));
    found = by_key_.emplace(key, serial).first;
    arm();
  }
  auto it = by_serial_.find(found->second);
  Datagram& d = it->second;

  // The last fragment fixes the datagram's length; fragments that disagree with it are an attack
  // or corruption, and the datagram cannot be trusted.
  if (!header.more_fragments) {
    bool consistent = !d.payload_total || *d.payload_total == end;
    for (const Fragment& f : d.fragments) consistent = consistent && f.offset + f.length <= end;
    if (!consistent) {
      discard(it, Counter::ip_frag_inconsistent);
      return std::nullopt;
    }
    d.payload_total = end;
  } else if (d.payload_total && end > *d.payload_total) {
    discard(it, Counter::ip_frag_inconsistent);
    return std::nullopt;
  }

  auto pos = std::lower_bound(d.fragments.begin(), d.fragments.end(), offset,
                              [](const Fragment& f, std::uint32_t off) { return f.offset < off; });
  if (pos != d.fragments.end() && pos->offset == offset && pos->length == length) {
    stats.drop(Counter::ip_frag_duplicate, "{}", header);
    return std::nullopt;
  }
  const bool overlaps_previous =
      pos != d.fragments.begin() && std::prev(pos)->offset + std::prev(pos)->length > offset;
  const bool overlaps_next = pos != d.fragments.end() && pos->offset < end;
  if (overlaps_previous || overlaps_next) {
    discard(it, Counter::ip_frag_overlap);
    return std::nullopt;
  }
  if (d.fragments.size() >= config_.max_fragments) {
    discard(it, Counter::ip_frag_too_many);
    return std::nullopt;
  }

  if (offset == 0) {
    std::copy_n(payload.data() - header.header_length, header.header_length,
                d.first_header.begin());
    d.first_header_length = header.header_length;
    d.link_broadcast = payload.link_broadcast;
  }
  const std::size_t cost = payload.capacity();
  d.fragments.insert(pos, Fragment{offset, length, std::move(payload)});
  d.memory += cost;
  memory_ += cost;

  // Over the memory bound: the oldest datagrams go first (possibly this one).
  const std::uint64_t serial = it->first;
  while (memory_ > config_.memory_limit && !by_serial_.empty()) {
    const bool is_this = by_serial_.begin()->first == serial;
    discard(by_serial_.begin(), Counter::ip_frag_evicted);
    if (is_this) return std::nullopt;
  }
  return complete(it);
}

std::optional<ReassembledDatagram> Reassembler::complete(
    std::map<std::uint64_t, Datagram>::iterator it) {
  Datagram& d = it->second;
  if (!d.payload_total || d.first_header_length == 0) return std::nullopt;
  std::uint32_t covered = 0;
  for (const Fragment& f : d.fragments) {
    if (f.offset != covered) return std::nullopt;  // a hole remains
    covered += f.length;
  }
  if (covered != *d.payload_total) return std::nullopt;

  const std::size_t header_length = d.first_header_length;
  const std::size_t total = header_length + *d.payload_total;
  if (total > wire::Ipv4Header::kMaxDatagram) {
    discard(it, Counter::ip_frag_bad_offset);
    return std::nullopt;
  }

  // One copy into a buffer with the first fragment's header in front, which is rewritten to
  // describe the whole datagram (RFC 791 3.2: total length, MF and offset cleared).
  Packet whole = Packet::allocate(total);
  std::uint8_t* h = whole.put(header_length);
  std::copy_n(d.first_header.begin(), header_length, h);
  for (const Fragment& f : d.fragments) whole.append(f.data.bytes());
  wire::store_be16(h + 2, static_cast<std::uint16_t>(total));
  wire::store_be16(h + 6, static_cast<std::uint16_t>(wire::load_be16(h + 6) & 0x4000));
  wire::store_be16(h + 10, 0);
  wire::store_be16(h + 10, wire::checksum({h, header_length}));
  auto header = wire::Ipv4Header::parse(whole.bytes());
  whole.link_broadcast = d.link_broadcast;

  memory_ -= d.memory;
  by_key_.erase(d.key);
  by_serial_.erase(it);
  if (!header) {
    // Cannot happen for a header that parsed as a fragment; counted rather than asserted.
    stack_.stats().drop(header.error(), "reassembled header");
    return std::nullopt;
  }
  stack_.stats().add(Counter::ip_reassembled);
  whole.pull(header_length);
  return ReassembledDatagram{*header, std::move(whole)};
}

void Reassembler::on_timer(std::uint64_t /*serial*/, Instant when) {
  if (when != queued_deadline_) return;  // superseded; the live timer is queued_deadline_
  queued_deadline_ = kNever;
  const Instant now = stack_.now();
  while (!by_serial_.empty() && by_serial_.begin()->second.expires_at <= now) {
    expire(by_serial_.begin());
  }
  arm();
}

void Reassembler::arm() {
  if (by_serial_.empty()) return;
  const auto& [serial, oldest] = *by_serial_.begin();
  if (oldest.expires_at >= queued_deadline_) return;  // an earlier timer will fire and re-arm
  queued_deadline_ = oldest.expires_at;
  stack_.timers().schedule(oldest.expires_at, TimerKind::ip_reassembly, serial);
}

void Reassembler::expire(std::map<std::uint64_t, Datagram>::iterator it) {
  Datagram& d = it->second;
  // RFC 1122 3.3.2: on timeout, send Time Exceeded (code 1) if the first fragment arrived, since
  // only it identifies the datagram to the sender.
  if (!d.fragments.empty() && d.fragments.front().offset == 0) {
    auto first = wire::Ipv4Header::parse(
        std::span<const std::uint8_t>(d.fragments.front().data.data() - d.first_header_length,
                                      d.first_header_length + d.fragments.front().length));
    if (first) {
      stack_.icmp().send_error(*d.iface, wire::IcmpType::time_exceeded, 1, *first,
                               d.fragments.front().data);
    }
  }
  discard(it, Counter::ip_frag_timeout);
}

void Reassembler::discard(std::map<std::uint64_t, Datagram>::iterator it, Counter reason) {
  Datagram& d = it->second;
  stack_.stats().drop(reason, "datagram id {} from {}, {} fragments", d.key.id,
                      Ipv4Address::from_u32(d.key.src), d.fragments.size());
  memory_ -= d.memory;
  by_key_.erase(d.key);
  by_serial_.erase(it);
}

}  // namespace ustack::ip
