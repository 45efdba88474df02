// Interface: one NetDevice as the stack sees it — its MAC, IPv4 address and prefix, and the
// default gateway reached through it.
#pragma once

#include <cstddef>
#include <optional>

#include "netdev/net_device.h"
#include "stack/wire/address.h"

namespace ustack {

struct InterfaceConfig {
  MacAddress mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};  // locally administered
  Ipv4Cidr address;
  std::optional<Ipv4Address> gateway;
};

class Interface {
 public:
  Interface(std::size_t index, NetDevice& device, const InterfaceConfig& config)
      : index_(index), device_(&device), config_(config) {}

  std::size_t index() const { return index_; }
  NetDevice& device() { return *device_; }
  MacAddress mac() const { return config_.mac; }
  Ipv4Address address() const { return config_.address.address; }
  const Ipv4Cidr& cidr() const { return config_.address; }
  const std::optional<Ipv4Address>& gateway() const { return config_.gateway; }
  // The largest IP datagram this link carries.
  std::size_t mtu() const { return device_->mtu(); }
  // What the device finishes on transmit: partial TCP checksums, TSO segments up to tso_max.
  DeviceOffloads offloads() const { return device_->offloads(); }

  bool is_on_link(Ipv4Address a) const { return config_.address.contains(a); }
  // Addresses that reach this host through this interface (RFC 1122 3.2.1.3): our own address,
  // the limited broadcast and our subnet's directed broadcast.
  bool accepts(Ipv4Address dst) const {
    return dst == address() || dst.is_broadcast() || is_subnet_broadcast(dst);
  }
  // An address that can name one host seen through this interface (RFC 1122 3.2.1.3): not
  // 0.0.0.0 (ustack does no DHCP), a broadcast, multicast, loopback or class E address.
  bool is_unicast_host(Ipv4Address a) const {
    return !(a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback() ||
             a.is_reserved() || is_subnet_broadcast(a));
  }
  bool is_subnet_broadcast(Ipv4Address a) const {
    return config_.address.prefix_length < 31 && a == config_.address.subnet_broadcast();
  }

 private:
  std::size_t index_;
  NetDevice* device_;
  InterfaceConfig config_;
};

}  // namespace ustack
