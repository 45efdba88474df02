// Fuzzes the whole receive path: frames in at Ethernet::input, whatever the stack does with them
// (ARP replies, ICMP answers, reassembly, errors, timers) out.
//
// Input format, so that one input can hold several frames (fragments, ARP then IP):
//   repeated { u8 advance_ms; u16 length (big-endian); length bytes of frame }
// A trailing partial record is fed as a last frame. The clock advances between frames so that
// reassembly and ARP timers fire too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/stack.h"

namespace {

// Discards what the stack sends, but parses nothing: the target is the stack's input path.
class NullDevice final : public ustack::NetDevice {
 public:
  std::size_t receive(std::vector<ustack::Packet>&, std::size_t) override { return 0; }
  bool transmit(ustack::Packet) override { return true; }
  std::size_t mtu() const override { return 1500; }
  std::string_view name() const override { return "fuzz"; }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ustack::log::set_levels("off");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  NullDevice device;
  ustack::Stack stack(ustack::Rng(1));
  ustack::ManualClock clock;
  stack.set_now(clock.now());
  ustack::InterfaceConfig config;
  config.address = {ustack::Ipv4Address(10, 0, 0, 2), 24};
  config.gateway = ustack::Ipv4Address(10, 0, 0, 1);
  ustack::Interface& iface = stack.add_interface(device, config);
  // A bound socket, so UDP datagrams to port 7 reach a receive queue rather than only the
  // port-unreachable path; its queue bound is exercised by inputs with many datagrams.
  ustack::udp::UdpSocket echo_socket;
  echo_socket.receive_buffer = 64 * 1024;
  stack.udp().bind(echo_socket, ustack::Endpoint{ustack::Ipv4Address::any(), 7});

  std::span<const std::uint8_t> input(data, size);
  for (int frames = 0; !input.empty() && frames < 256; ++frames) {
    const std::size_t advance_ms = input[0];
    input = input.subspan(1);
    std::size_t length = input.size();
    if (input.size() >= 2) {
      length = std::min<std::size_t>((std::size_t{input[0]} << 8) | input[1], input.size() - 2);
      input = input.subspan(2);
    }
    stack.receive_frame(iface, ustack::Packet::copy_of(input.first(length)));
    input = input.subspan(length);
    clock.advance(std::chrono::milliseconds(advance_ms * 250));
    stack.poll(clock.now());
  }
  // Let every timer run out: nothing may be left pending forever, and nothing may crash then.
  for (int i = 0; i < 8 && stack.next_deadline() != ustack::kNever; ++i) {
    clock.set(std::max(clock.now(), stack.next_deadline()));
    stack.poll(clock.now());
  }
  if (stack.ipv4().reassembler().memory() > ustack::ip::ReassemblyConfig{}.memory_limit ||
      echo_socket.queued_bytes > echo_socket.receive_buffer) {
    __builtin_trap();
  }
  stack.udp().unbind(echo_socket);
  return 0;
}
