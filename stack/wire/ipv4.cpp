#include "stack/wire/ipv4.h"

#include "stack/wire/checksum.h"

namespace ustack::wire {
namespace {

// RFC 791 3.1 option format: type 0 (end of list) and 1 (no-op) are one byte; every other
// option carries a length octet that counts the type and length bytes too, so it is at least 2.
// Options are otherwise ignored (RFC 1122 3.2.1.8: unknown options are skipped), but a length
// that would make a loop stall or run past the header rejects the datagram.
bool options_well_formed(std::span<const std::uint8_t> options) {
  std::size_t i = 0;
  while (i < options.size()) {
    std::uint8_t type = options[i];
    if (type == 0) return true;
    if (type == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= options.size()) return false;
    std::uint8_t length = options[i + 1];
    if (length < 2 || i + length > options.size()) return false;
    i += length;
  }
  return true;
}

}  // namespace

Parsed<Ipv4Header> Ipv4Header::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kMinSize) return Counter::ip_short;
  const std::uint8_t* p = bytes.data();
  if ((p[0] >> 4) != 4) return Counter::ip_bad_version;

  Ipv4Header h;
  h.header_length = static_cast<std::uint8_t>((p[0] & 0x0f) * 4);
  if (h.header_length < kMinSize || h.header_length > bytes.size()) {
    return Counter::ip_bad_header_length;
  }
  h.total_length = load_be16(p + 2);
  if (h.total_length < h.header_length) return Counter::ip_bad_total_length;
  if (h.total_length > bytes.size()) return Counter::ip_truncated;
  if (wire::checksum(bytes.first(h.header_length)) != 0) return Counter::ip_bad_checksum;
  if (!options_well_formed(bytes.subspan(kMinSize, h.header_length - kMinSize))) {
    return Counter::ip_bad_options;
  }

  h.tos = p[1];
  h.identification = load_be16(p + 4);
  std::uint16_t flags_offset = load_be16(p + 6);
  h.dont_fragment = (flags_offset & 0x4000) != 0;
  h.more_fragments = (flags_offset & 0x2000) != 0;
  h.fragment_offset = static_cast<std::uint16_t>((flags_offset & 0x1fff) * 8);
  h.ttl = p[8];
  h.protocol = p[9];
  h.checksum = load_be16(p + 10);
  h.src = Ipv4Address::load(p + 12);
  h.dst = Ipv4Address::load(p + 16);

  // A fragment that would make the datagram (header included) longer than 65535 bytes cannot
  // be reassembled; it is the "ping of death" that overflowed reassembly buffers.
  if (std::size_t{h.fragment_offset} + h.total_length > kMaxDatagram) {
    return Counter::ip_frag_bad_offset;
  }
  return h;
}

void Ipv4Header::emit(std::uint8_t* out) const {
  out[0] = 0x45;
  out[1] = tos;
  store_be16(out + 2, total_length);
  store_be16(out + 4, identification);
  std::uint16_t flags_offset = static_cast<std::uint16_t>(fragment_offset / 8);
  if (dont_fragment) flags_offset |= 0x4000;
  if (more_fragments) flags_offset |= 0x2000;
  store_be16(out + 6, flags_offset);
  out[8] = ttl;
  out[9] = protocol;
  store_be16(out + 10, 0);
  src.store(out + 12);
  dst.store(out + 16);
  store_be16(out + 10, wire::checksum({out, kMinSize}));
}

}  // namespace ustack::wire
