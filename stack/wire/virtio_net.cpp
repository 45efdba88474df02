#include "stack/wire/virtio_net.h"

#include "stack/wire/ipv4.h"
#include "stack/wire/offload.h"

namespace ustack::wire {
namespace {

// Little-endian, whatever the host (see the file comment of virtio_net.h).
std::uint16_t load_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void store_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

}  // namespace

Parsed<VirtioNetHeader> VirtioNetHeader::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kSize) return Counter::dev_bad_vnet_header;
  const std::uint8_t* in = bytes.data();
  VirtioNetHeader h;
  h.flags = in[0];
  h.gso_type = in[1];
  h.hdr_len = load_le16(in + 2);
  h.gso_size = load_le16(in + 4);
  h.csum_start = load_le16(in + 6);
  h.csum_offset = load_le16(in + 8);
  h.num_buffers = load_le16(in + 10);
  return h;
}

void VirtioNetHeader::emit(std::uint8_t* out) const {
  out[0] = flags;
  out[1] = gso_type;
  store_le16(out + 2, hdr_len);
  store_le16(out + 4, gso_size);
  store_le16(out + 6, csum_start);
  store_le16(out + 8, csum_offset);
  store_le16(out + 10, num_buffers);
}

Parsed<PacketOffload> VirtioNetHeader::to_offload(std::span<const std::uint8_t> frame) const {
  if ((flags & ~(kNeedsCsum | kDataValid)) != 0 || hdr_len > frame.size()) {
    return Counter::dev_bad_vnet_header;
  }
  PacketOffload o;
  switch (gso_type) {
    case kGsoNone:
      break;
    case kGsoTcpV4:
      // virtio 5.1.6.2.1: gso_size is the segment size; a GSO frame without one cannot be cut.
      if (gso_size == 0) return Counter::dev_bad_gso;
      o.gso_size = gso_size;
      break;
    default:
      // UDP, TCPv6, UDP_L4 and the ECN bit were not offered with TUNSETOFFLOAD.
      return Counter::dev_bad_gso;
  }
  if ((flags & kNeedsCsum) != 0) {
    // virtio 5.1.6.2.1: the checksum goes at csum_start + csum_offset, 2 bytes, in the frame.
    if (std::size_t{csum_start} + csum_offset + 2 > frame.size()) {
      return Counter::dev_bad_csum_offset;
    }
    o.csum_partial = true;
  }
  o.csum_valid = (flags & kDataValid) != 0;
  return o;
}

VirtioNetHeader VirtioNetHeader::for_frame(const PacketOffload& offload,
                                           std::span<const std::uint8_t> frame) {
  VirtioNetHeader h;
  if (!offload.csum_partial && offload.gso_size == 0) return h;
  auto l4 = locate_l4(frame);
  if (!l4) return h;
  h.flags = offload.csum_partial ? kNeedsCsum : 0;
  h.csum_start = static_cast<std::uint16_t>(l4->start);
  h.csum_offset = static_cast<std::uint16_t>(l4->checksum_offset);
  const bool tcp = l4->protocol == static_cast<std::uint8_t>(IpProtocol::tcp);
  const std::size_t l4_header = tcp ? static_cast<std::size_t>(frame[l4->start + 12] >> 4) * 4 : 8;
  h.hdr_len = static_cast<std::uint16_t>(std::min(frame.size(), l4->start + l4_header));
  if (offload.gso_size != 0 && tcp) {
    h.gso_type = kGsoTcpV4;
    h.gso_size = offload.gso_size;
  }
  return h;
}

}  // namespace ustack::wire
