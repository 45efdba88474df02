#include "stack/wire/icmp.h"

#include "stack/wire/checksum.h"

namespace ustack::wire {

Parsed<IcmpHeader> IcmpHeader::parse(std::span<const std::uint8_t> message) {
  if (message.size() < kSize) return Counter::icmp_short;
  if (wire::checksum(message) != 0) return Counter::icmp_bad_checksum;
  IcmpHeader h;
  h.type = message[0];
  h.code = message[1];
  h.checksum = load_be16(message.data() + 2);
  h.rest = load_be32(message.data() + 4);
  return h;
}

void IcmpHeader::emit(std::span<std::uint8_t> message) const {
  std::uint8_t* out = message.data();
  out[0] = type;
  out[1] = code;
  store_be16(out + 2, 0);
  store_be32(out + 4, rest);
  store_be16(out + 2, wire::checksum(message));
}

}  // namespace ustack::wire
