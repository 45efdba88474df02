#include "stack/wire/tcp.h"

#include <algorithm>
#include <cassert>

#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/offload.h"

namespace ustack::wire {
namespace {

constexpr std::uint8_t kind(TcpOptionKind k) {
  return static_cast<std::uint8_t>(k);
}

constexpr std::size_t kMssSize = 4;
constexpr std::size_t kWindowScaleSize = 3;
constexpr std::size_t kSackPermittedSize = 2;
constexpr std::size_t kTimestampsSize = 10;
constexpr std::size_t kSackBlockSize = 8;

// Bytes emitted before the SACK blocks (each option group padded to a 32-bit word).
std::size_t fixed_options_size(const TcpOptions& o) {
  std::size_t n = 0;
  if (o.mss) n += 4;
  if (o.timestamps) n += 12;                      // [SACK-permitted | NOP NOP] TS
  if (o.sack_permitted && !o.timestamps) n += 4;  // NOP NOP SACK-permitted
  if (o.window_scale) n += 4;                     // NOP WS
  return n;
}

}  // namespace

Parsed<TcpOptions> TcpOptions::parse(std::span<const std::uint8_t> options) {
  TcpOptions o;
  std::size_t i = 0;
  while (i < options.size()) {
    const std::uint8_t k = options[i];
    // RFC 9293 3.2: end of option list; what follows is padding.
    if (k == kind(TcpOptionKind::end)) break;
    if (k == kind(TcpOptionKind::nop)) {
      ++i;
      continue;
    }
    // Every other kind has a length byte counting kind and length: at least 2, and the option
    // must end inside the option space. Anything else leaves no safe way to find the next one.
    if (i + 1 >= options.size()) return Counter::tcp_bad_options;
    const std::size_t length = options[i + 1];
    if (length < 2 || length > options.size() - i) return Counter::tcp_bad_options;
    const std::uint8_t* data = options.data() + i + 2;
    switch (static_cast<TcpOptionKind>(k)) {
      case TcpOptionKind::mss:
        if (length == kMssSize) {
          o.mss = load_be16(data);
        } else {
          ++o.ignored;
        }
        break;
      case TcpOptionKind::window_scale:
        if (length == kWindowScaleSize) {
          // RFC 7323 2.3: a shift above 14 is logged and 14 used instead.
          o.window_scale = std::min(data[0], kMaxWindowScale);
        } else {
          ++o.ignored;
        }
        break;
      case TcpOptionKind::sack_permitted:
        if (length == kSackPermittedSize) {
          o.sack_permitted = true;
        } else {
          ++o.ignored;
        }
        break;
      case TcpOptionKind::sack: {
        const std::size_t blocks = (length - 2) / kSackBlockSize;
        if ((length - 2) % kSackBlockSize == 0 && blocks >= 1 && blocks <= kMaxSackBlocks) {
          o.sack_blocks = {};  // a later SACK option replaces all of an earlier one's blocks
          for (std::size_t b = 0; b < blocks; ++b) {
            o.sack_blocks[b] = SackBlock{tcp::Seq(load_be32(data + b * kSackBlockSize)),
                                         tcp::Seq(load_be32(data + b * kSackBlockSize + 4))};
          }
          o.sack_count = static_cast<std::uint8_t>(blocks);
        } else {
          ++o.ignored;
        }
        break;
      }
      case TcpOptionKind::timestamps:
        if (length == kTimestampsSize) {
          o.timestamps = TcpTimestamps{load_be32(data), load_be32(data + 4)};
        } else {
          ++o.ignored;
        }
        break;
      default:
        // RFC 9293 3.2 MUST-6: ignore options we do not implement.
        break;
    }
    i += length;
  }
  return o;
}

std::size_t TcpOptions::sacks_that_fit() const {
  const std::size_t used = fixed_options_size(*this);
  if (sack_count == 0 || used + 2 + 2 + kSackBlockSize > kMaxSize) return 0;
  return std::min<std::size_t>(sack_count, (kMaxSize - used - 4) / kSackBlockSize);
}

std::size_t TcpOptions::emit_size() const {
  const std::size_t sacks = sacks_that_fit();
  return fixed_options_size(*this) + (sacks == 0 ? 0 : 4 + sacks * kSackBlockSize);
}

std::size_t TcpOptions::emit(std::uint8_t* out) const {
  std::uint8_t* p = out;
  const auto put = [&p](std::uint8_t b) { *p++ = b; };
  if (mss) {
    put(kind(TcpOptionKind::mss));
    put(kMssSize);
    store_be16(p, *mss);
    p += 2;
  }
  if (timestamps) {
    if (sack_permitted) {
      put(kind(TcpOptionKind::sack_permitted));
      put(kSackPermittedSize);
    } else {
      put(kind(TcpOptionKind::nop));
      put(kind(TcpOptionKind::nop));
    }
    put(kind(TcpOptionKind::timestamps));
    put(kTimestampsSize);
    store_be32(p, timestamps->value);
    store_be32(p + 4, timestamps->echo_reply);
    p += 8;
  } else if (sack_permitted) {
    put(kind(TcpOptionKind::nop));
    put(kind(TcpOptionKind::nop));
    put(kind(TcpOptionKind::sack_permitted));
    put(kSackPermittedSize);
  }
  if (window_scale) {
    put(kind(TcpOptionKind::nop));
    put(kind(TcpOptionKind::window_scale));
    put(kWindowScaleSize);
    put(std::min(*window_scale, kMaxWindowScale));
  }
  if (const std::size_t sacks = sacks_that_fit(); sacks != 0) {
    put(kind(TcpOptionKind::nop));
    put(kind(TcpOptionKind::nop));
    put(kind(TcpOptionKind::sack));
    put(static_cast<std::uint8_t>(2 + sacks * kSackBlockSize));
    for (std::size_t b = 0; b < sacks; ++b) {
      store_be32(p, sack_blocks[b].left.raw());
      store_be32(p + 4, sack_blocks[b].right.raw());
      p += 8;
    }
  }
  const auto written = static_cast<std::size_t>(p - out);
  assert(written == emit_size() && written % 4 == 0 && written <= kMaxSize);
  return written;
}

Parsed<TcpHeader> TcpHeader::parse(std::span<const std::uint8_t> segment, Ipv4Address src,
                                   Ipv4Address dst, bool verify_checksum) {
  if (segment.size() < kMinSize) return Counter::tcp_short;
  const std::uint8_t* in = segment.data();
  TcpHeader h;
  h.src_port = load_be16(in);
  h.dst_port = load_be16(in + 2);
  h.seq = tcp::Seq(load_be32(in + 4));
  h.ack = tcp::Seq(load_be32(in + 8));
  h.header_length = static_cast<std::uint8_t>((in[12] >> 4) * 4);
  h.flags = in[13];
  h.window = load_be16(in + 14);
  h.checksum = load_be16(in + 16);
  h.urgent_pointer = load_be16(in + 18);
  if (h.header_length < kMinSize || h.header_length > segment.size()) {
    return Counter::tcp_bad_offset;
  }
  // The pseudo-header carries the TCP length in 16 bits; no IPv4 datagram holds more.
  if (segment.size() > Ipv4Header::kMaxDatagram) return Counter::tcp_bad_checksum;
  if (verify_checksum) {
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, static_cast<std::uint8_t>(IpProtocol::tcp),
                      static_cast<std::uint16_t>(segment.size()));
    acc.add(segment);
    if (acc.finish() != 0) return Counter::tcp_bad_checksum;
  }
  auto options = TcpOptions::parse(segment.subspan(kMinSize, h.header_length - kMinSize));
  if (!options) return options.error();
  h.options = *options;
  h.payload_length = static_cast<std::uint16_t>(segment.size() - h.header_length);
  return h;
}

std::size_t TcpHeader::emit(std::span<std::uint8_t> segment, Ipv4Address src, Ipv4Address dst,
                            bool checksum_partial) const {
  const std::size_t size = emit_size();
  assert(segment.size() >= size && segment.size() <= Ipv4Header::kMaxDatagram);
  std::uint8_t* out = segment.data();
  store_be16(out, src_port);
  store_be16(out + 2, dst_port);
  store_be32(out + 4, seq.raw());
  store_be32(out + 8, ack.raw());
  out[12] = static_cast<std::uint8_t>((size / 4) << 4);
  out[13] = flags;
  store_be16(out + 14, window);
  store_be16(out + 16, 0);
  store_be16(out + 18, urgent_pointer);
  options.emit(out + kMinSize);
  if (checksum_partial) {
    store_be16(out + 16, pseudo_header_partial(src, dst, static_cast<std::uint8_t>(IpProtocol::tcp),
                                               static_cast<std::uint16_t>(segment.size())));
    return size;
  }
  ChecksumAccumulator acc;
  add_pseudo_header(acc, src, dst, static_cast<std::uint8_t>(IpProtocol::tcp),
                    static_cast<std::uint16_t>(segment.size()));
  acc.add(segment);
  store_be16(out + 16, acc.finish());
  return size;
}

}  // namespace ustack::wire
