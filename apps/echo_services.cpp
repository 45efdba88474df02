#include "apps/echo_services.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <vector>

#include "stack/base/log.h"
#include "stack/socket/api.h"

namespace ustack::apps {

int open_udp_server(std::uint16_t port) {
  int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (ustack::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int saved = errno;
    ustack::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void serve_udp_echo(int fd) {
  std::vector<char> buf(65536);  // the largest datagram IPv4 can carry fits
  for (;;) {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    ssize_t n = ustack::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                                 &peer_len);
    if (n < 0) {
      if (errno == EBADF) return;  // closed: the service is stopping
      continue;                    // e.g. ECONNREFUSED left by an earlier reply
    }
    if (ustack::sendto(fd, buf.data(), static_cast<size_t>(n), 0,
                       reinterpret_cast<sockaddr*>(&peer), peer_len) < 0) {
      log::socket().debug("udp echo: sendto: {}", std::strerror(errno));
    }
  }
}

}  // namespace ustack::apps
