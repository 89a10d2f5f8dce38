// The twin's link transport over TCP or a pty (host_link.h). POSIX only.
#include "host_port/host_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hostport {

namespace {
void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }
}  // namespace

HostLink::~HostLink() {
  Disconnect();
  if (listener_ >= 0) close(listener_);
  if (pty_slave_ >= 0) close(pty_slave_);
}

bool HostLink::ListenTcp(uint16_t port) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) return false;
  const int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener_, 2) != 0) {
    close(listener_);
    listener_ = -1;
    return false;
  }
  socklen_t len = sizeof addr;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  NonBlocking(listener_);
  std::snprintf(name_, sizeof name_, "socket://127.0.0.1:%u", ntohs(addr.sin_port));
  return true;
}

bool HostLink::OpenPty() {
  int master = -1, slave = -1;
  char path[128] = {};
  if (openpty(&master, &slave, path, nullptr, nullptr) != 0) return false;
  termios tio{};
  tcgetattr(slave, &tio);
  cfmakeraw(&tio);
  tcsetattr(slave, TCSANOW, &tio);
  NonBlocking(master);
  conn_ = master;
  pty_slave_ = slave;
  pty_ = true;
  std::snprintf(name_, sizeof name_, "%s", path);
  return true;
}

void HostLink::Accept() {
  if (listener_ < 0) return;
  for (;;) {
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    if (conn_ >= 0) close(conn_);  // the newest host wins
    conn_ = fd;
    ++connections_;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    NonBlocking(fd);
  }
}

void HostLink::Disconnect() {
  if (!pty_ && conn_ >= 0) {
    close(conn_);
    conn_ = -1;
  }
}

bool HostLink::Wait(int timeout_ms, int extra_fd) {
  pollfd fds[3];
  int n = 0, li = -1, ci = -1, ei = -1;
  if (listener_ >= 0) {
    li = n;
    fds[n++] = {listener_, POLLIN, 0};
  }
  if (conn_ >= 0) {
    ci = n;
    fds[n++] = {conn_, POLLIN, 0};
  }
  if (extra_fd >= 0) {
    ei = n;
    fds[n++] = {extra_fd, POLLIN, 0};
  }
  if (poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) return false;
  if (li >= 0 && (fds[li].revents & POLLIN)) Accept();
  (void)ci;
  return ei >= 0 && (fds[ei].revents & (POLLIN | POLLHUP)) != 0;
}

int32_t HostLink::Read(uint8_t* dst, uint32_t cap) {
  if (conn_ < 0) return 0;
  const ssize_t n = read(conn_, dst, cap);
  if (n > 0) return static_cast<int32_t>(n);
  if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != EIO)) {
    Disconnect();  // the host closed the port
  }
  return 0;
}

int32_t HostLink::Write(const uint8_t* src, uint32_t len) {
  if (conn_ < 0) return static_cast<int32_t>(len);  // nobody listening: dropped
  uint32_t sent = 0;
  int stalls = 0;
  while (sent < len) {
    const ssize_t n = pty_ ? write(conn_, src + sent, len - sent)
                           : send(conn_, src + sent, len - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<uint32_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (pty_) return static_cast<int32_t>(len);  // nobody reads the pty: dropped
      pollfd p = {conn_, POLLOUT, 0};
      if (poll(&p, 1, 100) <= 0 && ++stalls > 20) {
        Disconnect();  // a host that stopped reading for 2 s is gone
        return static_cast<int32_t>(len);
      }
      continue;
    }
    Disconnect();
    return static_cast<int32_t>(len);
  }
  return static_cast<int32_t>(len);
}

}  // namespace hostport
