// Fuzzes the TCP header and option parser, TcpHeader::parse, alone.
//
// Input format:
//   u8 mode; 4 bytes source address; 4 bytes destination address; the TCP segment.
// When mode is odd the checksum field is recomputed for the addresses first, so that inputs
// get past the checksum to the option parser rather than nearly all stopping at tcp.bad_checksum;
// when it is even the bytes are parsed as they are, as a peer would send them.
//
// Checks, beyond "no crash, no hang, no sanitizer report": a parse that succeeds describes the
// bytes it was given (data offset within the segment, at most 4 SACK blocks, window scale at most
// 14), and emitting what was parsed then parsing that again gives the same header and options.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/tcp.h"

using ustack::Ipv4Address;
using ustack::wire::TcpHeader;
using ustack::wire::TcpOptions;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  const Ipv4Address src = Ipv4Address::load(data + 1);
  const Ipv4Address dst = Ipv4Address::load(data + 5);
  std::vector<std::uint8_t> segment(data + 9, data + size);
  if (segment.size() > 65535) segment.resize(65535);
  if (fix_checksum && segment.size() >= TcpHeader::kMinSize) {
    ustack::wire::store_be16(&segment[16], 0);
    ustack::wire::ChecksumAccumulator acc;
    ustack::wire::add_pseudo_header(acc, src, dst, 6, static_cast<std::uint16_t>(segment.size()));
    acc.add(segment);
    ustack::wire::store_be16(&segment[16], acc.finish());
  }

  auto h = TcpHeader::parse(segment, src, dst);
  if (!h) return 0;
  const TcpOptions& o = h->options;
  if (h->header_length < TcpHeader::kMinSize || h->header_length > segment.size() ||
      h->header_length + h->payload_length != segment.size() ||
      o.sack_count > TcpOptions::kMaxSackBlocks ||
      (o.window_scale && *o.window_scale > TcpOptions::kMaxWindowScale)) {
    __builtin_trap();
  }

  // Emit what was parsed, with the same payload, and parse it again. Emit may leave out SACK
  // blocks that do not fit after the other options, so compare against what fits.
  std::vector<std::uint8_t> out(h->emit_size() + h->payload_length);
  std::copy(segment.begin() + h->header_length, segment.end(), out.begin() + h->emit_size());
  if (out.size() > 65535) return 0;  // options grew past what the segment had room for
  h->emit(out, src, dst);
  auto again = TcpHeader::parse(out, src, dst);
  if (!again) __builtin_trap();
  TcpOptions expected = o;
  expected.ignored = 0;
  expected.sack_count = static_cast<std::uint8_t>(o.sacks_that_fit());
  for (std::size_t b = expected.sack_count; b < TcpOptions::kMaxSackBlocks; ++b) {
    expected.sack_blocks[b] = {};
  }
  if (!(again->options == expected) || again->src_port != h->src_port ||
      again->dst_port != h->dst_port || again->seq != h->seq || again->ack != h->ack ||
      again->flags != h->flags || again->window != h->window ||
      again->urgent_pointer != h->urgent_pointer || again->payload_length != h->payload_length) {
    __builtin_trap();
  }
  return 0;
}
