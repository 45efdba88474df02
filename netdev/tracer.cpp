#include "netdev/tracer.h"

#include <iterator>

#include <fmt/format.h>

#include "stack/base/log.h"
#include "stack/base/stats.h"
#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/icmp.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/udp.h"

namespace ustack {
namespace {

using Out = std::back_insert_iterator<fmt::memory_buffer>;

void describe_bad(Out out, Counter reason, std::size_t length) {
  fmt::format_to(out, "bad {} len {}", counter_name(reason), length);
}

void describe_ipv4(Out out, std::span<const std::uint8_t> bytes) {
  auto ip = wire::Ipv4Header::parse(bytes);
  if (!ip) return describe_bad(out, ip.error(), bytes.size());
  fmt::format_to(out, "{}", *ip);
  // Only an unfragmented datagram holds a whole transport message to decode; fragments are
  // described by the IP header alone. TCP shows as "proto 6" until wire has it.
  if (ip->is_fragment()) return;
  auto payload = bytes.subspan(ip->header_length, ip->payload_length());
  switch (static_cast<wire::IpProtocol>(ip->protocol)) {
    case wire::IpProtocol::icmp: {
      auto icmp = wire::IcmpHeader::parse(payload);
      fmt::format_to(out, " ");
      if (!icmp) return describe_bad(out, icmp.error(), payload.size());
      fmt::format_to(out, "{}", *icmp);
      return;
    }
    case wire::IpProtocol::udp: {
      auto udp = wire::UdpHeader::parse(payload, ip->src, ip->dst);
      fmt::format_to(out, " ");
      if (!udp) return describe_bad(out, udp.error(), payload.size());
      fmt::format_to(out, "{}", *udp);
      return;
    }
    default:
      return;
  }
}

}  // namespace

std::string describe_frame(std::span<const std::uint8_t> frame) {
  fmt::memory_buffer buffer;
  Out out(buffer);
  auto eth = wire::EthernetHeader::parse(frame);
  if (!eth) {
    describe_bad(out, eth.error(), frame.size());
    return fmt::to_string(buffer);
  }
  auto payload = frame.subspan(wire::EthernetHeader::kSize);
  switch (static_cast<wire::EtherType>(eth->ethertype)) {
    case wire::EtherType::arp: {
      fmt::format_to(out, "eth {} > {} ", eth->src, eth->dst);
      auto arp = wire::ArpPacket::parse(payload);
      if (arp) {
        fmt::format_to(out, "{}", *arp);
      } else {
        describe_bad(out, arp.error(), payload.size());
      }
      break;
    }
    case wire::EtherType::ipv4:
      fmt::format_to(out, "eth {} > {} ", eth->src, eth->dst);
      describe_ipv4(out, payload);
      break;
    default:
      fmt::format_to(out, "{} len {}", *eth, frame.size());
      break;
  }
  return fmt::to_string(buffer);
}

std::size_t Tracer::receive(std::vector<Packet>& out, std::size_t max) {
  std::size_t first = out.size();
  std::size_t n = inner_.receive(out, max);
  auto& logger = log::dev();
  if (logger.should_log(spdlog::level::info)) {
    for (std::size_t i = first; i < out.size(); ++i) {
      logger.info("{} rx {}", inner_.name(), describe_frame(out[i].bytes()));
    }
  }
  return n;
}

bool Tracer::transmit(Packet frame) {
  auto& logger = log::dev();
  if (!logger.should_log(spdlog::level::info)) return inner_.transmit(std::move(frame));
  // Decoded before the frame is handed on, logged after, so the line can say if it was refused.
  std::string line = describe_frame(frame.bytes());
  bool taken = inner_.transmit(std::move(frame));
  logger.info("{} tx {}{}", inner_.name(), line, taken ? "" : " (refused by the device)");
  return taken;
}

}  // namespace ustack
