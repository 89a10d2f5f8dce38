// The twin's link transport: the byte stream a USB-Serial-JTAG port gives the firmware, served
// on a local TCP port (pyserial opens it as socket://127.0.0.1:PORT) or on a pty (/dev/pts/N).
//
// TCP: one connection at a time; a new connection replaces the current one (the previous
// client has gone away or is about to). Nothing is buffered for a missing host: bytes written
// while nobody is connected are dropped, as a UART with no listener drops them.
// pty: the twin keeps its own handle on the slave side, so a host closing the port never makes
// the master side fail; the port name stays the same for the twin's life.
#pragma once

#include <cstdint>

#include "node/port.h"

namespace hostport {

class HostLink final : public node::LinkPort {
 public:
  HostLink() = default;
  ~HostLink();
  HostLink(const HostLink&) = delete;
  HostLink& operator=(const HostLink&) = delete;

  // Listens on 127.0.0.1:`port` (0: any free port). False when the port cannot be bound.
  bool ListenTcp(uint16_t port);
  // Opens a pty in raw mode.
  bool OpenPty();
  // socket://127.0.0.1:PORT or the pty's slave path.
  const char* name() const { return name_; }

  // Waits up to `timeout_ms` for bytes from the host, a new connection or `extra_fd` readable
  // (-1: none). Accepts pending connections. Returns true when `extra_fd` is readable.
  bool Wait(int timeout_ms, int extra_fd);
  bool connected() const { return conn_ >= 0; }
  // Connections accepted so far (a new one means a host (re)opened the port).
  uint32_t connections() const { return connections_; }
  void Disconnect();

  int32_t Read(uint8_t* dst, uint32_t cap) override;
  int32_t Write(const uint8_t* src, uint32_t len) override;

 private:
  void Accept();
  int listener_ = -1;
  int conn_ = -1;      // TCP connection, or the pty master
  int pty_slave_ = -1;
  bool pty_ = false;
  uint32_t connections_ = 0;
  char name_[128] = {};
};

}  // namespace hostport
