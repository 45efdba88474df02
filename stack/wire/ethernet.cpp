#include "stack/wire/ethernet.h"

namespace ustack::wire {

Parsed<EthernetHeader> EthernetHeader::parse(std::span<const std::uint8_t> frame) {
  if (frame.size() < kSize) return Counter::eth_runt;
  EthernetHeader h;
  h.dst = MacAddress::load(frame.data());
  h.src = MacAddress::load(frame.data() + 6);
  h.ethertype = load_be16(frame.data() + 12);
  return h;
}

void EthernetHeader::emit(std::uint8_t* out) const {
  dst.store(out);
  src.store(out + 6);
  store_be16(out + 12, ethertype);
}

}  // namespace ustack::wire
