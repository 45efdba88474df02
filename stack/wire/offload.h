// Software halves of the TAP offloads (see virtio_net.h): what the kernel or a NIC does with a
// frame that PacketOffload marks, done in ustack for links that cannot (the pcap file, tests).
//
// - A partial checksum (NEEDS_CSUM) holds the folded pseudo-header sum, not complemented, in the
//   TCP/UDP checksum field (the value Linux's tcp_v4_send_check leaves for CHECKSUM_PARTIAL);
//   completing it sums the L4 header and data over it and stores the complement (RFC 1071).
// - A GSO TCP/IPv4 frame is cut the way Linux's tcp_gso_segment cuts one: every segment gets the
//   same headers and options, the IP identification counts up from the first segment's, the
//   sequence number moves by the data before it, CWR stays on the first segment only, FIN and
//   PSH on the last only (RFC 9293 3.1: they mark the end of the data), and each segment gets its
//   own IP total length and full IP and TCP checksums.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stack/base/packet.h"
#include "stack/wire/address.h"

namespace ustack::wire {

// The value a partial checksum field holds: the folded one's complement sum of the TCP/UDP
// pseudo-header (RFC 9293 3.1, RFC 768) for a segment of `length` bytes.
std::uint16_t pseudo_header_partial(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                    std::uint16_t length);

// Where the transport header of an Ethernet frame carrying IPv4 starts and what it is.
struct L4Location {
  std::size_t start = 0;            // from the start of the Ethernet header
  std::uint8_t protocol = 0;        // IP protocol number
  std::size_t checksum_offset = 0;  // of the checksum field, from start (TCP 16, UDP 6)
};
// nullopt unless the frame holds an unfragmented IPv4 TCP or UDP datagram whose headers fit.
std::optional<L4Location> locate_l4(std::span<const std::uint8_t> frame);

// Completes a partial TCP/UDP checksum in place. False (frame unchanged) if the frame is not one
// locate_l4 finds.
bool complete_partial_checksum(std::span<std::uint8_t> frame);

// Cuts a GSO TCP/IPv4 Ethernet frame (frame.offload.gso_size != 0) into frames of at most
// gso_size data bytes each, with complete checksums and no offload marks. A frame without GSO
// comes back as one copy, its checksum completed if it was partial. Empty if the frame is not a
// TCP/IPv4 frame with consistent lengths.
std::vector<Packet> segment_gso(const Packet& frame);

}  // namespace ustack::wire
