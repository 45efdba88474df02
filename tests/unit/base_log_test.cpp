// log: one spdlog logger per layer, levels set from "--log" specs and USTACK_LOG.
#include "stack/base/log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace ustack::log {
namespace {

constexpr Layer kAll[] = {Layer::eth, Layer::arp,    Layer::ip,  Layer::icmp, Layer::udp,
                          Layer::tcp, Layer::socket, Layer::dev, Layer::stack};

spdlog::level::level_enum level(Layer l) {
  return get(l).level();
}

class LogLevels : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(set_levels("info"), ""); }
  void TearDown() override {
    unsetenv("USTACK_LOG");
    set_levels("info");
  }
  void expect_all(spdlog::level::level_enum want) {
    for (Layer l : kAll) EXPECT_EQ(level(l), want) << name(l);
  }
};

TEST_F(LogLevels, NamesAndLoggers) {
  EXPECT_EQ(name(Layer::eth), "eth");
  EXPECT_EQ(name(Layer::arp), "arp");
  EXPECT_EQ(name(Layer::ip), "ip");
  EXPECT_EQ(name(Layer::icmp), "icmp");
  EXPECT_EQ(name(Layer::udp), "udp");
  EXPECT_EQ(name(Layer::tcp), "tcp");
  EXPECT_EQ(name(Layer::socket), "socket");
  EXPECT_EQ(name(Layer::dev), "dev");
  EXPECT_EQ(name(Layer::stack), "stack");
  for (Layer l : kAll) EXPECT_EQ(get(l).name(), name(l));
  // The shortcuts return the same loggers, and each call returns the same one.
  EXPECT_EQ(&tcp(), &get(Layer::tcp));
  EXPECT_EQ(&eth(), &get(Layer::eth));
  EXPECT_EQ(&stack(), &get(Layer::stack));
  EXPECT_EQ(&get(Layer::ip), &get(Layer::ip));
  EXPECT_NE(&get(Layer::ip), &get(Layer::icmp));
}

TEST_F(LogLevels, DefaultIsInfo) {
  expect_all(spdlog::level::info);
}

TEST_F(LogLevels, BareLevelSetsEveryLayer) {
  EXPECT_EQ(set_levels("debug"), "");
  expect_all(spdlog::level::debug);
  EXPECT_EQ(set_levels("trace"), "");
  expect_all(spdlog::level::trace);
  EXPECT_EQ(set_levels("off"), "");
  expect_all(spdlog::level::off);
  EXPECT_EQ(set_levels("warn"), "");
  expect_all(spdlog::level::warn);
  EXPECT_EQ(set_levels("error"), "");
  expect_all(spdlog::level::err);
  EXPECT_EQ(set_levels("info"), "");
  expect_all(spdlog::level::info);
}

TEST_F(LogLevels, PerLayer) {
  EXPECT_EQ(set_levels("tcp=debug,arp=trace"), "");
  EXPECT_EQ(level(Layer::tcp), spdlog::level::debug);
  EXPECT_EQ(level(Layer::arp), spdlog::level::trace);
  EXPECT_EQ(level(Layer::ip), spdlog::level::info);
  EXPECT_EQ(level(Layer::eth), spdlog::level::info);
  EXPECT_TRUE(tcp().should_log(spdlog::level::debug));
  EXPECT_FALSE(tcp().should_log(spdlog::level::trace));
  EXPECT_FALSE(ip().should_log(spdlog::level::debug));
}

// httpd's access log is a layer too, so that it can be silenced like any other.
TEST_F(LogLevels, TheHttpAccessLogIsALayer) {
  EXPECT_EQ(set_levels("http=warn"), "");
  EXPECT_EQ(level(Layer::http), spdlog::level::warn);
  EXPECT_FALSE(http().should_log(spdlog::level::info));
  EXPECT_EQ(level(Layer::tcp), spdlog::level::info);
  EXPECT_EQ(http().name(), "http");
  EXPECT_EQ(name(Layer::http), "http");
}

TEST_F(LogLevels, BareLevelThenOverrides) {
  EXPECT_EQ(set_levels("debug,ip=warn"), "");
  EXPECT_EQ(level(Layer::ip), spdlog::level::warn);
  EXPECT_EQ(level(Layer::tcp), spdlog::level::debug);
  EXPECT_EQ(level(Layer::stack), spdlog::level::debug);
  // Later items win.
  EXPECT_EQ(set_levels("ip=trace,ip=error"), "");
  EXPECT_EQ(level(Layer::ip), spdlog::level::err);
}

TEST_F(LogLevels, SpacesAndEmptyItemsAreTolerated) {
  EXPECT_EQ(set_levels(" tcp = debug , udp=trace ,, "), "");
  EXPECT_EQ(level(Layer::tcp), spdlog::level::debug);
  EXPECT_EQ(level(Layer::udp), spdlog::level::trace);
  EXPECT_EQ(set_levels(""), "");
  EXPECT_EQ(set_levels(","), "");
  EXPECT_EQ(level(Layer::tcp), spdlog::level::debug);
}

TEST_F(LogLevels, UnknownLevelIsAnError) {
  for (const char* spec : {"verbose", "tcp=verbose", "tcp=", "DEBUG", "tcp=Debug", "3"}) {
    std::string error = set_levels(spec);
    EXPECT_NE(error, "") << spec;
    EXPECT_NE(error.find("unknown log level"), std::string::npos) << error;
  }
  EXPECT_NE(set_levels("tcp=verbose").find("'verbose'"), std::string::npos);
  EXPECT_EQ(level(Layer::tcp), spdlog::level::info);
}

TEST_F(LogLevels, UnknownLayerIsAnError) {
  for (const char* spec : {"foo=debug", "TCP=debug", "tcp6=debug", "ipv4=trace", " x =info"}) {
    std::string error = set_levels(spec);
    EXPECT_NE(error.find("unknown log layer"), std::string::npos) << spec << ": " << error;
  }
  std::string error = set_levels("foo=debug");
  EXPECT_NE(error.find("'foo'"), std::string::npos) << error;
  // The message lists the layers that do exist.
  EXPECT_NE(error.find("tcp"), std::string::npos) << error;
  expect_all(spdlog::level::info);
}

TEST_F(LogLevels, FromEnvironment) {
  unsetenv("USTACK_LOG");
  EXPECT_EQ(set_levels_from_env(), "");
  expect_all(spdlog::level::info);

  setenv("USTACK_LOG", "icmp=trace", 1);
  EXPECT_EQ(set_levels_from_env(), "");
  EXPECT_EQ(level(Layer::icmp), spdlog::level::trace);
  EXPECT_EQ(level(Layer::ip), spdlog::level::info);

  setenv("USTACK_LOG", "nonsense=1", 1);
  EXPECT_NE(set_levels_from_env(), "");
}

}  // namespace
}  // namespace ustack::log
