// PcapWriter: the file it leaves is read back field by field (pcap-savefile(5)): the global
// header, then one record per frame in and out with the ManualClock's time and the exact bytes.
#include "netdev/pcap_writer.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/fake_device.h"

namespace ustack {
namespace {

// The fake reports distinctive values so the tests can see the writer delegating them.
struct FakeDevice : test::FakeDevice {
  FakeDevice() {
    fd_value = 42;
    mtu_value = 1400;
    deadline = Instant{} + 9s;
  }
};

Packet frame_of(std::size_t size, std::uint8_t seed) {
  Packet p = Packet::allocate(size);
  std::uint8_t* d = p.put(size);
  for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<std::uint8_t>(seed + i);
  return p;
}

std::vector<std::uint8_t> bytes_of(const Packet& p) {
  return {p.bytes().begin(), p.bytes().end()};
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
T field(const std::vector<std::uint8_t>& file, std::size_t offset) {
  T value{};
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

struct Record {
  std::uint32_t seconds;
  std::uint32_t nanoseconds;
  std::uint32_t captured;
  std::uint32_t original;
  std::vector<std::uint8_t> bytes;
};

// The records after the global header; fails the test on a malformed file.
std::vector<Record> records_of(const std::vector<std::uint8_t>& file) {
  std::vector<Record> records;
  std::size_t at = PcapWriter::kFileHeaderSize;
  while (at < file.size()) {
    EXPECT_LE(at + PcapWriter::kRecordHeaderSize, file.size()) << "truncated record header";
    if (at + PcapWriter::kRecordHeaderSize > file.size()) break;
    Record r{field<std::uint32_t>(file, at),
             field<std::uint32_t>(file, at + 4),
             field<std::uint32_t>(file, at + 8),
             field<std::uint32_t>(file, at + 12),
             {}};
    at += PcapWriter::kRecordHeaderSize;
    EXPECT_LE(at + r.captured, file.size()) << "truncated record data";
    if (at + r.captured > file.size()) break;
    r.bytes.assign(file.begin() + static_cast<long>(at),
                   file.begin() + static_cast<long>(at + r.captured));
    at += r.captured;
    records.push_back(std::move(r));
  }
  return records;
}

class PcapWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "netdev_pcap_writer_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pcap";
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  std::string path_;
  FakeDevice inner_;
  ManualClock clock_{Instant{} + 3s + 250us};
};

TEST_F(PcapWriterTest, GlobalHeaderIsWrittenAtOnce) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;
  auto file = read_file(path_);
  ASSERT_EQ(file.size(), PcapWriter::kFileHeaderSize);
  EXPECT_EQ(field<std::uint32_t>(file, 0), 0xa1b23c4du);
  EXPECT_EQ(field<std::uint16_t>(file, 4), 2u);
  EXPECT_EQ(field<std::uint16_t>(file, 6), 4u);
  EXPECT_EQ(field<std::int32_t>(file, 8), 0);
  EXPECT_EQ(field<std::uint32_t>(file, 12), 0u);
  EXPECT_EQ(field<std::uint32_t>(file, 16), 262144u);
  EXPECT_EQ(field<std::uint32_t>(file, 20), 1u);
}

TEST_F(PcapWriterTest, RecordsFramesInBothDirectionsWithTheirTimes) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;

  inner_.incoming.push_back(frame_of(60, 1));
  inner_.incoming.push_back(frame_of(98, 2));
  std::vector<Packet> got;
  ASSERT_EQ(pcap->receive(got, 8), 2u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(bytes_of(got[0]), bytes_of(frame_of(60, 1)));

  clock_.advance(1s + 5ns);
  ASSERT_TRUE(pcap->transmit(frame_of(1514, 3)));
  ASSERT_EQ(inner_.sent.size(), 1u);
  EXPECT_EQ(bytes_of(inner_.sent[0]), bytes_of(frame_of(1514, 3)));

  // Buffered until flush(), which also flushes the inner device.
  EXPECT_EQ(read_file(path_).size(), PcapWriter::kFileHeaderSize);
  pcap->flush();
  EXPECT_EQ(inner_.flushes, 1);
  EXPECT_EQ(pcap->frames_written(), 3u);

  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].seconds, 3u);
  EXPECT_EQ(records[0].nanoseconds, 250'000u);
  EXPECT_EQ(records[0].captured, 60u);
  EXPECT_EQ(records[0].original, 60u);
  EXPECT_EQ(records[0].bytes, bytes_of(frame_of(60, 1)));
  EXPECT_EQ(records[1].bytes, bytes_of(frame_of(98, 2)));
  EXPECT_EQ(records[2].seconds, 4u);
  EXPECT_EQ(records[2].nanoseconds, 250'005u);
  EXPECT_EQ(records[2].captured, 1514u);
  EXPECT_EQ(records[2].original, 1514u);
  EXPECT_EQ(records[2].bytes, bytes_of(frame_of(1514, 3)));
}

TEST_F(PcapWriterTest, RefusedTransmitIsNotRecorded) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;
  ASSERT_TRUE(pcap->transmit(frame_of(60, 1)));
  inner_.refuse = true;
  EXPECT_FALSE(pcap->transmit(frame_of(70, 2)));
  inner_.refuse = false;
  ASSERT_TRUE(pcap->transmit(frame_of(80, 3)));
  pcap->flush();
  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].bytes, bytes_of(frame_of(60, 1)));
  EXPECT_EQ(records[1].bytes, bytes_of(frame_of(80, 3)));
  EXPECT_EQ(pcap->frames_written(), 2u);
}

TEST_F(PcapWriterTest, DestructionWritesWhatIsBuffered) {
  {
    std::string error;
    auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
    ASSERT_NE(pcap, nullptr) << error;
    for (std::uint8_t i = 0; i < 10; ++i) pcap->transmit(frame_of(100, i));
  }
  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(records[9].bytes, bytes_of(frame_of(100, 9)));
}

TEST_F(PcapWriterTest, ManyFramesWithoutFlushStayComplete) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;
  // More than the internal buffer holds, so it is written out on its own along the way.
  for (int i = 0; i < 1000; ++i) pcap->transmit(frame_of(1514, static_cast<std::uint8_t>(i)));
  auto partial = read_file(path_);
  EXPECT_GT(partial.size(), PcapWriter::kFileHeaderSize);
  pcap->flush();
  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 1000u);
  EXPECT_EQ(records[999].bytes, bytes_of(frame_of(1514, static_cast<std::uint8_t>(999))));
}

TEST_F(PcapWriterTest, FramesBeyondTheSnapLengthAreCut) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;
  ASSERT_TRUE(pcap->transmit(frame_of(300000, 7)));
  pcap->flush();
  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].captured, PcapWriter::kSnapLength);
  EXPECT_EQ(records[0].original, 300000u);
  auto full = bytes_of(frame_of(300000, 7));
  EXPECT_TRUE(std::equal(records[0].bytes.begin(), records[0].bytes.end(), full.begin()));
}

TEST_F(PcapWriterTest, TimestampOffsetIsAdded) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, 1'700'000'000s, error);
  ASSERT_NE(pcap, nullptr) << error;
  pcap->transmit(frame_of(60, 0));
  pcap->flush();
  auto records = records_of(read_file(path_));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seconds, 1'700'000'003u);
  EXPECT_EQ(records[0].nanoseconds, 250'000u);
}

TEST_F(PcapWriterTest, WallClockOffsetMapsTheClockToNow) {
  Duration offset = wall_clock_offset(clock_);
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  Duration wall = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  Duration mapped = clock_.now().time_since_epoch() + offset;
  EXPECT_LE(mapped, wall);
  EXPECT_GT(mapped, wall - 5s);
}

TEST_F(PcapWriterTest, DelegatesToTheInnerDevice) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, path_, clock_, Duration::zero(), error);
  ASSERT_NE(pcap, nullptr) << error;
  EXPECT_EQ(pcap->fd(), 42);
  EXPECT_EQ(pcap->mtu(), 1400u);
  EXPECT_EQ(pcap->name(), "fake0");
  EXPECT_EQ(pcap->next_deadline(), Instant{} + 9s);
}

TEST_F(PcapWriterTest, OpenErrorIsReported) {
  std::string error;
  auto pcap = PcapWriter::open(inner_, "/nonexistent-dir/x.pcap", clock_, Duration::zero(), error);
  EXPECT_EQ(pcap, nullptr);
  EXPECT_NE(error.find("/nonexistent-dir/x.pcap"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

}  // namespace
}  // namespace ustack
