#include "netdev/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "stack/base/log.h"
#include "stack/wire/offload.h"

namespace ustack {
namespace {

// pcap-savefile(5) stores every field in the writer's byte order; readers tell it by the magic.
template <typename T>
void append_native(std::vector<std::uint8_t>& buffer, T value) {
  std::uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  buffer.insert(buffer.end(), bytes, bytes + sizeof(T));
}

}  // namespace

Duration wall_clock_offset(const Clock& clock) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  Duration wall = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  return wall - clock.now().time_since_epoch();
}

std::unique_ptr<PcapWriter> PcapWriter::open(NetDevice& inner, const std::string& path,
                                             const Clock& clock, Duration timestamp_offset,
                                             std::string& error) {
  int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file < 0) {
    error = fmt::format("open {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  std::unique_ptr<PcapWriter> writer(new PcapWriter(inner, file, path, clock, timestamp_offset));

  // Global header: magic, version 2.4, thiszone (GMT), sigfigs, snaplen, link type.
  auto& header = writer->buffer_;
  append_native<std::uint32_t>(header, kMagicNanoseconds);
  append_native<std::uint16_t>(header, kVersionMajor);
  append_native<std::uint16_t>(header, kVersionMinor);
  append_native<std::int32_t>(header, 0);
  append_native<std::uint32_t>(header, 0);
  append_native<std::uint32_t>(header, kSnapLength);
  append_native<std::uint32_t>(header, kLinkTypeEthernet);
  // Written at once, so that even a capture that sees no frame is a valid file.
  if (!writer->write_buffer()) {
    error = fmt::format("write {}: {}", path, std::strerror(writer->last_errno_));
    return nullptr;
  }
  return writer;
}

PcapWriter::PcapWriter(NetDevice& inner, int file, std::string path, const Clock& clock,
                       Duration timestamp_offset)
    : inner_(inner),
      file_(file),
      path_(std::move(path)),
      clock_(clock),
      timestamp_offset_(timestamp_offset) {
  buffer_.reserve(kBufferLimit);
}

PcapWriter::~PcapWriter() {
  write_buffer();
  ::close(file_);
}

std::size_t PcapWriter::receive(std::vector<Packet>& out, std::size_t max) {
  std::size_t first = out.size();
  std::size_t n = inner_.receive(out, max);
  for (std::size_t i = first; i < out.size(); ++i) append_frame(out[i]);
  return n;
}

void PcapWriter::append_frame(const Packet& frame) {
  if (!frame.offload.csum_partial && frame.offload.gso_size == 0) {
    return append_record(frame.bytes());
  }
  // Offloaded (see DeviceOffloads): recorded as the frames that are on the wire, cut to the MSS
  // and with finished checksums, as tcpdump on a real NIC shows them. A frame the cutter cannot
  // read goes in as it is.
  std::vector<Packet> pieces = wire::segment_gso(frame);
  if (pieces.empty()) return append_record(frame.bytes());
  for (const Packet& piece : pieces) append_record(piece.bytes());
}

bool PcapWriter::transmit(Packet frame) {
  if (frame.offload.csum_partial || frame.offload.gso_size != 0) {
    // Cut before the frame is handed on (it moves), recorded only if the device took it.
    std::vector<Packet> pieces = wire::segment_gso(frame);
    if (pieces.empty()) pieces.push_back(frame.clone());
    if (!inner_.transmit(std::move(frame))) return false;
    for (const Packet& piece : pieces) append_record(piece.bytes());
    return true;
  }
  append_record(frame.bytes());
  std::size_t record_size = kRecordHeaderSize + std::min<std::size_t>(frame.size(), kSnapLength);
  if (inner_.transmit(std::move(frame))) return true;
  // The device refused the frame, so it never went out: take the record back. append_record
  // writes the buffer out before it appends, never after, so the record is still buffered.
  buffer_.resize(buffer_.size() - record_size);
  --frames_written_;
  return false;
}

void PcapWriter::flush() {
  inner_.flush();
  write_buffer();
}

void PcapWriter::append_record(std::span<const std::uint8_t> frame) {
  std::size_t captured = std::min<std::size_t>(frame.size(), kSnapLength);
  if (buffer_.size() + kRecordHeaderSize + captured > kBufferLimit) write_buffer();

  auto ns = (clock_.now().time_since_epoch() + timestamp_offset_).count();
  if (ns < 0) ns = 0;
  // Seconds are 32 bits in this format (they wrap in 2106).
  append_native<std::uint32_t>(buffer_, static_cast<std::uint32_t>(ns / 1'000'000'000));
  append_native<std::uint32_t>(buffer_, static_cast<std::uint32_t>(ns % 1'000'000'000));
  append_native<std::uint32_t>(buffer_, static_cast<std::uint32_t>(captured));
  append_native<std::uint32_t>(buffer_, static_cast<std::uint32_t>(frame.size()));
  buffer_.insert(buffer_.end(), frame.begin(), frame.begin() + static_cast<long>(captured));
  ++frames_written_;
}

bool PcapWriter::write_buffer() {
  std::size_t done = 0;
  int interrupted = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(file_, buffer_.data() + done, buffer_.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR && ++interrupted < 8) continue;
    // A full disk or a failing file: the buffered records are lost, the capture goes on.
    last_errno_ = n < 0 ? errno : EIO;
    ++write_errors_;
    if ((write_errors_ & (write_errors_ - 1)) == 0) {
      log::dev().warn("pcap {}: write: {} ({} write errors so far)", path_,
                      std::strerror(last_errno_), write_errors_);
    }
    buffer_.clear();
    return false;
  }
  buffer_.clear();
  return true;
}

}  // namespace ustack
