// The TLS record type that a kernel-TLS socket reports in recvmsg's control data; both
// backends read it when an object receives TLS records (Backend::recv_tls_records).
#pragma once

#include <linux/tls.h>
#include <sys/socket.h>

#include <cstdint>

namespace askr::loop {

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

constexpr uint8_t kTlsApplicationData = 23;
// Room for one TLS_GET_RECORD_TYPE control message (the only one a kTLS socket sends).
constexpr size_t kTlsControlSpace = CMSG_SPACE(sizeof(uint8_t));

// The record type in `msg`'s control data; application data when there is none (the kernel
// attaches it to every record, but a plain socket never does).
inline uint8_t tls_record_type(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE &&
        c->cmsg_len >= CMSG_LEN(sizeof(uint8_t)))
      return *CMSG_DATA(c);
  }
  return kTlsApplicationData;
}

}  // namespace askr::loop
