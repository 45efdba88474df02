// One spdlog logger per layer ("eth", "arp", "ip", "icmp", "udp", "tcp", "socket", "dev",
// "stack", and "http", the access log of the HTTP server in apps/http), with levels set at run time
// from `--log tcp=debug,arp=trace` or the USTACK_LOG environment variable (same syntax; a bare
// level such as "debug" sets every layer).
//
// Hot-path logging costs one level comparison when off: spdlog checks should_log() before it
// formats anything, so `log::tcp().trace("{}", seg)` formats nothing at the default level.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "stack/base/fmt.h"

namespace ustack::log {

// Every layer logs to stderr, except http: an access log line per response, on stdout, as web
// servers keep access and error logs apart (`--log http=warn` turns it off).
enum class Layer { eth, arp, ip, icmp, udp, tcp, socket, dev, stack, http, count };

std::string_view name(Layer layer);
spdlog::logger& get(Layer layer);

inline spdlog::logger& eth() {
  return get(Layer::eth);
}
inline spdlog::logger& arp() {
  return get(Layer::arp);
}
inline spdlog::logger& ip() {
  return get(Layer::ip);
}
inline spdlog::logger& icmp() {
  return get(Layer::icmp);
}
inline spdlog::logger& udp() {
  return get(Layer::udp);
}
inline spdlog::logger& tcp() {
  return get(Layer::tcp);
}
inline spdlog::logger& socket() {
  return get(Layer::socket);
}
inline spdlog::logger& dev() {
  return get(Layer::dev);
}
inline spdlog::logger& stack() {
  return get(Layer::stack);
}
inline spdlog::logger& http() {
  return get(Layer::http);
}

// Applies a level spec such as "info", "tcp=debug,arp=trace" or "debug,ip=warn". Returns an
// error message for an unknown layer or level, empty on success.
std::string set_levels(std::string_view spec);

// Applies USTACK_LOG if it is set; returns an error message as set_levels does.
std::string set_levels_from_env();

}  // namespace ustack::log
