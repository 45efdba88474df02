// The virtio-net header (virtio spec 1.x 5.1.6 "struct virtio_net_hdr"; linux/virtio_net.h) that
// a TAP opened with IFF_VNET_HDR puts in front of every frame, both ways:
//
//   byte 0     flags        NEEDS_CSUM (1): the L4 checksum is partial, see PacketOffload
//                           DATA_VALID (2): the L4 checksum was verified (receive only)
//   byte 1     gso_type     NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), UDP_L4 (5); ECN (0x80) bit
//   bytes 2-3  hdr_len      bytes of Ethernet + IP + TCP headers in a GSO frame (a hint)
//   bytes 4-5  gso_size     data bytes per segment once a GSO frame is cut
//   bytes 6-7  csum_start   where the checksummed span starts, from the Ethernet header
//   bytes 8-9  csum_offset  where the checksum field is, from csum_start
//   bytes 10-11 num_buffers (virtio 1.x / VIRTIO_NET_F_MRG_RXBUF only; tun ignores it)
//
// The 16-bit fields are little-endian: TapDevice asks for that with TUNSETVNETLE (tun's default is
// the host's byte order, the legacy virtio rule, which is little-endian on x86 anyway) and sets
// the header size to 12 with TUNSETVNETHDRSZ.
//
// ustack takes only what it offered with TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4): any other GSO
// type, an ECN bit, a GSO frame without a segment size, unknown flags or offsets past the frame
// are refused with a counter (dev.bad_vnet_header, dev.bad_gso, dev.bad_csum_offset).
#pragma once

#include <cstdint>
#include <span>

#include "stack/base/packet.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

struct VirtioNetHeader {
  static constexpr std::size_t kSize = 12;

  static constexpr std::uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr std::uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
  static constexpr std::uint8_t kGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
  static constexpr std::uint8_t kGsoUdp = 3;     // VIRTIO_NET_HDR_GSO_UDP
  static constexpr std::uint8_t kGsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6
  static constexpr std::uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
  std::uint16_t num_buffers = 0;

  // Reads the 12 bytes at the front of `bytes`; dev.bad_vnet_header if fewer.
  static Parsed<VirtioNetHeader> parse(std::span<const std::uint8_t> bytes);
  // Writes the 12 bytes at out.
  void emit(std::uint8_t* out) const;

  // What the header says about `frame` (the Ethernet frame that followed it), after checking it
  // against the frame, in order: dev.bad_vnet_header (a flag other than NEEDS_CSUM/DATA_VALID,
  // or hdr_len past the frame), dev.bad_gso (a GSO type other than NONE or TCPV4, the ECN bit, or
  // TCPV4 with gso_size 0), dev.bad_csum_offset (NEEDS_CSUM with the checksum field not inside
  // the frame).
  Parsed<PacketOffload> to_offload(std::span<const std::uint8_t> frame) const;

  // The header that hands `frame` with `offload` to the kernel. csum_start, csum_offset and
  // hdr_len are read off the frame's IPv4 and TCP/UDP headers. A frame the header cannot
  // describe (not TCP/UDP over IPv4) gets a header with no offload, so the caller must have
  // completed its checksums (only TCP marks frames, so this does not happen).
  static VirtioNetHeader for_frame(const PacketOffload& offload,
                                   std::span<const std::uint8_t> frame);

  friend bool operator==(const VirtioNetHeader&, const VirtioNetHeader&) = default;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::VirtioNetHeader> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::VirtioNetHeader& h, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "vnet flags {:#x} gso {:#x} hdr_len {} gso_size {} csum {}+{}",
                          h.flags, h.gso_type, h.hdr_len, h.gso_size, h.csum_start, h.csum_offset);
  }
};
