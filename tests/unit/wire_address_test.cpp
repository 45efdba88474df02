// MacAddress, Ipv4Address and Ipv4Cidr: parsing, formatting, predicates and prefix arithmetic.
#include "stack/wire/address.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "stack/base/rng.h"

namespace ustack {
namespace {

TEST(MacAddress, ParseAndFormat) {
  auto m = MacAddress::parse("02:00:00:00:00:02");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, MacAddress(0x02, 0, 0, 0, 0, 0x02));
  EXPECT_EQ(fmt::format("{}", *m), "02:00:00:00:00:02");

  auto upper = MacAddress::parse("AA:bb:Cc:0D:e0:FF");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, MacAddress(0xaa, 0xbb, 0xcc, 0x0d, 0xe0, 0xff));
  EXPECT_EQ(fmt::format("{}", *upper), "aa:bb:cc:0d:e0:ff");

  auto dashes = MacAddress::parse("01-00-5e-00-00-16");
  ASSERT_TRUE(dashes);
  EXPECT_EQ(*dashes, MacAddress(0x01, 0x00, 0x5e, 0x00, 0x00, 0x16));
}

TEST(MacAddress, RoundTripsRandomValues) {
  Rng rng(6);
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t v = rng.next_u64();
    MacAddress m(static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                 static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24),
                 static_cast<std::uint8_t>(v >> 32), static_cast<std::uint8_t>(v >> 40));
    auto text = fmt::format("{}", m);
    ASSERT_EQ(text.size(), 17u);
    auto back = MacAddress::parse(text);
    ASSERT_TRUE(back) << text;
    ASSERT_EQ(*back, m);
  }
}

TEST(MacAddress, Rejects) {
  for (const char* bad :
       {"", "01:02", "02:00:00:00:00", "02:00:00:00:00:02:", "02:00:00:00:00:02:03",
        "2:00:00:00:00:02", "002:00:00:00:00:02", "02:00:00:00:00:0g", "02.00.00.00.00.02",
        "0200:00:00:00:02", " 02:00:00:00:00:02", "02:00:00:00:00:02 ", "+2:00:00:00:00:02",
        "-2:00:00:00:00:02", "02::00:00:00:00:02", "02:00:00:00:00:2"}) {
    EXPECT_FALSE(MacAddress::parse(bad)) << '"' << bad << '"';
  }
}

TEST(MacAddress, LoadStoreAndPredicates) {
  const std::uint8_t bytes[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x16};
  auto m = MacAddress::load(bytes);
  EXPECT_EQ(m, MacAddress(0x01, 0x00, 0x5e, 0x00, 0x00, 0x16));
  std::uint8_t out[6] = {};
  m.store(out);
  EXPECT_TRUE(std::equal(out, out + 6, bytes));

  EXPECT_TRUE(m.is_multicast());
  EXPECT_FALSE(m.is_broadcast());
  EXPECT_FALSE(m.is_zero());

  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());  // the I/G bit is set
  EXPECT_EQ(fmt::format("{}", MacAddress::broadcast()), "ff:ff:ff:ff:ff:ff");

  MacAddress unicast(0x02, 0, 0, 0, 0, 0x01);
  EXPECT_FALSE(unicast.is_multicast());
  EXPECT_FALSE(unicast.is_broadcast());
  EXPECT_TRUE(MacAddress{}.is_zero());
  EXPECT_FALSE(MacAddress{}.is_multicast());

  EXPECT_LT(MacAddress(0, 0, 0, 0, 0, 1), MacAddress(0, 0, 0, 0, 1, 0));
}

TEST(Ipv4Address, ParseAndFormat) {
  auto a = Ipv4Address::parse("10.0.0.2");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(a->to_u32(), 0x0a000002u);
  EXPECT_EQ(fmt::format("{}", *a), "10.0.0.2");

  EXPECT_EQ(*Ipv4Address::parse("0.0.0.0"), Ipv4Address::any());
  EXPECT_EQ(*Ipv4Address::parse("255.255.255.255"), Ipv4Address::broadcast());
  EXPECT_EQ(*Ipv4Address::parse("192.168.100.254"), Ipv4Address(192, 168, 100, 254));
  EXPECT_EQ(fmt::format("{}", Ipv4Address::broadcast()), "255.255.255.255");
  EXPECT_EQ(fmt::format("{}", Ipv4Address::any()), "0.0.0.0");
  EXPECT_EQ(fmt::format("{} {}", Ipv4Address(1, 2, 3, 4), Ipv4Address(224, 0, 0, 22)),
            "1.2.3.4 224.0.0.22");
}

TEST(Ipv4Address, RoundTripsRandomValues) {
  Rng rng(4);
  for (int i = 0; i < 2000; ++i) {
    auto a = Ipv4Address::from_u32(rng.next_u32());
    auto text = fmt::format("{}", a);
    auto back = Ipv4Address::parse(text);
    ASSERT_TRUE(back) << text;
    ASSERT_EQ(*back, a);
  }
}

TEST(Ipv4Address, Rejects) {
  for (const char* bad :
       {"",         "1.2.3",      "1.2.3.4.5",  "256.0.0.1", "1.2.3.256",  "01:02",     " 1.2.3.4",
        "1.2.3.4 ", "1.2.3.4/33", "1.2.3.4/24", "1..3.4",    ".1.2.3",     "1.2.3.",    "1.2.3.4.",
        "a.b.c.d",  "-1.2.3.4",   "+1.2.3.4",   "1.2.3.-4",  "1000.2.3.4", "0x1.2.3.4", "1.2.3.4\n",
        "1,2,3,4",  "4294967295", "...",        "1.2.3.4..", "9999.0.0.0"}) {
    EXPECT_FALSE(Ipv4Address::parse(bad)) << '"' << bad << '"';
  }
}

// inet_pton(3) refuses leading zeros, while inet_aton(3) reads them as octal ("010" is 8). Taking
// "010.0.0.1" as 10.0.0.1 would silently disagree with other tools, so it is an error.
TEST(Ipv4Address, RejectsLeadingZeros) {
  for (const char* bad : {"010.0.0.1", "1.02.3.4", "1.2.003.4", "1.2.3.04", "00.0.0.0"}) {
    EXPECT_FALSE(Ipv4Address::parse(bad)) << '"' << bad << '"';
  }
  EXPECT_TRUE(Ipv4Address::parse("0.0.0.0"));
  EXPECT_TRUE(Ipv4Address::parse("10.0.0.100"));
}

TEST(Ipv4Address, LoadStore) {
  const std::uint8_t bytes[4] = {0xc0, 0xa8, 0x01, 0x02};
  auto a = Ipv4Address::load(bytes);
  EXPECT_EQ(a, Ipv4Address(192, 168, 1, 2));
  std::uint8_t out[4] = {};
  a.store(out);
  EXPECT_TRUE(std::equal(out, out + 4, bytes));
}

TEST(Ipv4Address, Predicates) {
  EXPECT_TRUE(Ipv4Address::any().is_unspecified());
  EXPECT_FALSE(Ipv4Address(0, 0, 0, 1).is_unspecified());

  EXPECT_TRUE(Ipv4Address::broadcast().is_broadcast());
  EXPECT_FALSE(Ipv4Address(10, 0, 0, 255).is_broadcast());  // only the limited broadcast

  EXPECT_TRUE(Ipv4Address(224, 0, 0, 0).is_multicast());
  EXPECT_TRUE(Ipv4Address(224, 0, 0, 22).is_multicast());
  EXPECT_TRUE(Ipv4Address(239, 255, 255, 255).is_multicast());
  EXPECT_FALSE(Ipv4Address(223, 255, 255, 255).is_multicast());
  EXPECT_FALSE(Ipv4Address(240, 0, 0, 0).is_multicast());
  EXPECT_FALSE(Ipv4Address::broadcast().is_multicast());

  EXPECT_TRUE(Ipv4Address(127, 0, 0, 1).is_loopback());
  EXPECT_TRUE(Ipv4Address(127, 255, 255, 255).is_loopback());
  EXPECT_FALSE(Ipv4Address(126, 255, 255, 255).is_loopback());
  EXPECT_FALSE(Ipv4Address(128, 0, 0, 0).is_loopback());

  EXPECT_TRUE(Ipv4Address(240, 0, 0, 0).is_reserved());
  EXPECT_TRUE(Ipv4Address(255, 255, 255, 254).is_reserved());
  EXPECT_FALSE(Ipv4Address::broadcast().is_reserved());
  EXPECT_FALSE(Ipv4Address(239, 255, 255, 255).is_reserved());

  Ipv4Address plain(10, 0, 0, 2);
  EXPECT_FALSE(plain.is_unspecified());
  EXPECT_FALSE(plain.is_broadcast());
  EXPECT_FALSE(plain.is_multicast());
  EXPECT_FALSE(plain.is_loopback());
  EXPECT_FALSE(plain.is_reserved());

  EXPECT_LT(Ipv4Address(9, 255, 255, 255), Ipv4Address(10, 0, 0, 0));
}

TEST(Ipv4Cidr, Parse) {
  auto c = Ipv4Cidr::parse("10.0.0.2/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->address, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(c->prefix_length, 24);
  EXPECT_EQ(fmt::format("{}", *c), "10.0.0.2/24");

  auto bare = Ipv4Cidr::parse("10.0.0.2");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->prefix_length, 32);
  EXPECT_EQ(fmt::format("{}", *bare), "10.0.0.2/32");

  EXPECT_EQ(Ipv4Cidr::parse("0.0.0.0/0")->prefix_length, 0);
  EXPECT_EQ(Ipv4Cidr::parse("1.2.3.4/32")->prefix_length, 32);

  for (const char* bad :
       {"1.2.3.4/33", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/ 8", "1.2.3.4/8 ",
        "1.2.3.4/8/8", "1.2.3/8", "/8", "1.2.3.4/1000", "1.2.3.4/x", " 1.2.3.4/8", "256.0.0.1/8"}) {
    EXPECT_FALSE(Ipv4Cidr::parse(bad)) << '"' << bad << '"';
  }
}

TEST(Ipv4Cidr, Slash24) {
  Ipv4Cidr c{Ipv4Address(10, 0, 0, 2), 24};
  EXPECT_EQ(c.mask(), 0xffffff00u);
  EXPECT_EQ(c.network(), Ipv4Address(10, 0, 0, 0));
  EXPECT_EQ(c.subnet_broadcast(), Ipv4Address(10, 0, 0, 255));
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 0)));
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 1)));
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 255)));
  EXPECT_FALSE(c.contains(Ipv4Address(10, 0, 1, 0)));
  EXPECT_FALSE(c.contains(Ipv4Address(9, 255, 255, 255)));
  EXPECT_FALSE(c.contains(Ipv4Address(138, 0, 0, 2)));
}

TEST(Ipv4Cidr, Slash0) {
  Ipv4Cidr c{Ipv4Address(10, 0, 0, 2), 0};
  EXPECT_EQ(c.mask(), 0u);
  EXPECT_EQ(c.network(), Ipv4Address::any());
  EXPECT_EQ(c.subnet_broadcast(), Ipv4Address::broadcast());
  EXPECT_TRUE(c.contains(Ipv4Address::any()));
  EXPECT_TRUE(c.contains(Ipv4Address::broadcast()));
  EXPECT_TRUE(c.contains(Ipv4Address(192, 168, 1, 1)));
}

TEST(Ipv4Cidr, Slash31) {
  // RFC 3021: a point-to-point link, both addresses usable, no directed broadcast.
  Ipv4Cidr c{Ipv4Address(10, 0, 0, 3), 31};
  EXPECT_EQ(c.mask(), 0xfffffffeu);
  EXPECT_EQ(c.network(), Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(c.subnet_broadcast(), c.address);
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 2)));
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 3)));
  EXPECT_FALSE(c.contains(Ipv4Address(10, 0, 0, 1)));
  EXPECT_FALSE(c.contains(Ipv4Address(10, 0, 0, 4)));
}

TEST(Ipv4Cidr, Slash32) {
  Ipv4Cidr c{Ipv4Address(10, 0, 0, 3), 32};
  EXPECT_EQ(c.mask(), 0xffffffffu);
  EXPECT_EQ(c.network(), c.address);
  EXPECT_EQ(c.subnet_broadcast(), c.address);
  EXPECT_TRUE(c.contains(Ipv4Address(10, 0, 0, 3)));
  EXPECT_FALSE(c.contains(Ipv4Address(10, 0, 0, 2)));
}

TEST(Ipv4Cidr, EveryPrefixLength) {
  const auto a = Ipv4Address(172, 16, 45, 77);
  for (std::uint8_t len = 0; len <= 32; ++len) {
    Ipv4Cidr c{a, len};
    std::uint64_t expected_mask = len == 0 ? 0 : (0xffffffffULL << (32 - len)) & 0xffffffffULL;
    ASSERT_EQ(c.mask(), expected_mask) << int{len};
    EXPECT_TRUE(c.contains(a));
    EXPECT_TRUE(c.contains(c.network()));
    EXPECT_EQ(c.network().to_u32() & ~c.mask(), 0u);
    if (len < 31) {
      EXPECT_EQ(c.subnet_broadcast().to_u32(), c.network().to_u32() | ~c.mask());
    }
    auto text = fmt::format("{}", c);
    auto back = Ipv4Cidr::parse(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, c);
  }
}

}  // namespace
}  // namespace ustack
