// PcapWriter: a NetDevice decorator that records every frame received from and transmitted to
// the device it wraps in a classic libpcap file (pcap-savefile(5)), readable by tcpdump,
// tshark and Wireshark.
//
// The file uses the nanosecond variant of the format (magic 0xa1b23c4d), version 2.4, snaplen
// 262144 and LINKTYPE_ETHERNET, with all fields in host byte order as libpcap writes them.
// Records are buffered and written out on flush() — which the Stack calls at the end of every
// poll — when the buffer fills, and on destruction, so a killed program leaves a file that is
// readable up to its last flush.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "netdev/net_device.h"
#include "stack/base/time.h"

namespace ustack {

// What to add to `clock`'s Instants to get wall-clock time (CLOCK_REALTIME) now. The stack's
// clocks count from an arbitrary epoch (SteadyClock from boot, ManualClock from zero); captures
// made with this offset show real dates and times.
Duration wall_clock_offset(const Clock& clock);

class PcapWriter final : public NetDevice {
 public:
  static constexpr std::uint32_t kMagicNanoseconds = 0xa1b23c4d;
  static constexpr std::uint16_t kVersionMajor = 2;
  static constexpr std::uint16_t kVersionMinor = 4;
  static constexpr std::uint32_t kSnapLength = 262144;
  static constexpr std::uint32_t kLinkTypeEthernet = 1;
  static constexpr std::size_t kFileHeaderSize = 24;
  static constexpr std::size_t kRecordHeaderSize = 16;

  // Creates (truncating) `path` and writes the file header. Record timestamps are
  // clock.now() + timestamp_offset: pass wall_clock_offset(clock) for real times, or zero for
  // times on the stack's own timeline (tests with a ManualClock). On failure returns nullptr and
  // sets `error`.
  static std::unique_ptr<PcapWriter> open(NetDevice& inner, const std::string& path,
                                          const Clock& clock, Duration timestamp_offset,
                                          std::string& error);

  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  // Writes out whatever is still buffered and closes the file.
  ~PcapWriter() override;

  std::size_t receive(std::vector<Packet>& out, std::size_t max) override;
  // Records the frame only if the inner device takes it, so the file shows what went out.
  bool transmit(Packet frame) override;
  // Flushes the inner device, then writes the buffered records to the file.
  void flush() override;
  int fd() const override { return inner_.fd(); }
  std::size_t mtu() const override { return inner_.mtu(); }
  std::string_view name() const override { return inner_.name(); }
  Instant next_deadline() const override { return inner_.next_deadline(); }
  // Offloaded frames are recorded as the frames they stand for (wire::segment_gso).
  DeviceOffloads offloads() const override { return inner_.offloads(); }
  void attach(Stats& stats) override { inner_.attach(stats); }

  std::uint64_t frames_written() const { return frames_written_; }
  std::uint64_t write_errors() const { return write_errors_; }

 private:
  PcapWriter(NetDevice& inner, int file, std::string path, const Clock& clock,
             Duration timestamp_offset);

  void append_record(std::span<const std::uint8_t> frame);
  // One record per frame on the wire: an offloaded frame is cut and finished first.
  void append_frame(const Packet& frame);
  // Writes the buffer to the file and empties it; false (and the records lost) on an error.
  bool write_buffer();

  // Records are written out once this much is buffered, whether or not flush() came.
  static constexpr std::size_t kBufferLimit = 256 * 1024;

  NetDevice& inner_;
  int file_;
  std::string path_;
  const Clock& clock_;
  Duration timestamp_offset_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t frames_written_ = 0;
  std::uint64_t write_errors_ = 0;
  int last_errno_ = 0;
};

}  // namespace ustack
