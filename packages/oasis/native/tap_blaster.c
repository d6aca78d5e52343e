// tap-blaster: makes the kernel send N Ethernet frames out of an interface as fast as it can
// (AF_PACKET + sendmmsg, qdisc bypassed), to measure how fast a TAP reader can take them.
//
//   tap-blaster IFNAME DST_MAC COUNT [FRAME_BYTES=60] [ETHERTYPE=0x88b5 | udp:SRC_IP:DST_IP:PORT | tcp:SRC_IP:DST_IP:PORT]
//
// Frames go from the interface's own MAC to DST_MAC. With an EtherType, bytes 14..17 carry a
// big-endian sequence number. With udp:…, each frame is an IPv4/UDP datagram (valid IP and UDP
// checksums, source port 9, destination PORT) whose payload starts with the sequence number.
// With tcp:…, the frames are the consecutive segments of one TCP stream (source port 9, ACK set,
// zero payload, IP IDs and sequence numbers advancing, valid checksums): exactly what GRO on the
// receiving side merges, which is how the offload ceiling gets 64 KB frames into a TAP (sending
// GSO frames from here does not: see measureTapRxOffload in test/support/tap-ceiling.ts).
// Prints one JSON line: {"sent":N,"retries":R,"seconds":S}. Needs CAP_NET_RAW.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

typedef struct {
  int enabled;  // 17 (UDP) or 6 (TCP)
  uint8_t src[4], dst[4];
  uint16_t port;
} udp_mode;

// An IPv4 header (20 bytes, DF, TTL 64) with its checksum. GRO merges only segments whose IDs
// advance by one, as a real sender's do, so the ID follows the sequence number.
static void fill_ipv4(uint8_t *ip, uint16_t total, uint32_t seq, uint8_t proto, const udp_mode *u) {
  ip[0] = 0x45;
  ip[1] = 0;
  ip[2] = (uint8_t)(total >> 8);
  ip[3] = (uint8_t)total;
  ip[4] = (uint8_t)(seq >> 8);
  ip[5] = (uint8_t)seq;
  ip[6] = 0x40;  // don't fragment
  ip[7] = 0;
  ip[8] = 64;
  ip[9] = proto;
  ip[10] = ip[11] = 0;
  memcpy(ip + 12, u->src, 4);
  memcpy(ip + 16, u->dst, 4);
  uint16_t c = fold(sum16(ip, 20, 0));
  ip[10] = (uint8_t)(c >> 8);
  ip[11] = (uint8_t)c;
}

// The checksum of a transport segment of `length` bytes whose non-zero bytes are the first
// `covered` ones at `p`, with the pseudo-header in front.
static uint16_t transport_checksum(const uint8_t *p, uint16_t covered, uint16_t length, uint8_t proto, const udp_mode *u) {
  uint8_t pseudo[12];
  memcpy(pseudo, u->src, 4);
  memcpy(pseudo + 4, u->dst, 4);
  pseudo[8] = 0;
  pseudo[9] = proto;
  pseudo[10] = (uint8_t)(length >> 8);
  pseudo[11] = (uint8_t)length;
  return fold(sum16(p, covered, sum16(pseudo, 12, 0)));
}

// Fills IPv4 + TCP headers for segment number `seq` of a stream of equal segments; the payload
// stays zero, so the checksum covers only the pseudo-header and the TCP header.
static void fill_tcp(uint8_t *f, long size, const udp_mode *u, uint32_t seq) {
  uint8_t *tcp = f + 34;
  uint16_t tcp_len = (uint16_t)(size - 34);
  uint32_t tseq = seq * (uint32_t)(size - 54) + 1;
  fill_ipv4(f + 14, (uint16_t)(size - 14), seq, 6, u);
  tcp[0] = 0;
  tcp[1] = 9;
  tcp[2] = (uint8_t)(u->port >> 8);
  tcp[3] = (uint8_t)u->port;
  tcp[4] = (uint8_t)(tseq >> 24);
  tcp[5] = (uint8_t)(tseq >> 16);
  tcp[6] = (uint8_t)(tseq >> 8);
  tcp[7] = (uint8_t)tseq;
  tcp[8] = tcp[9] = tcp[10] = 0;
  tcp[11] = 1;      // ack 1
  tcp[12] = 5 << 4; // no options
  tcp[13] = 0x10;   // ACK
  tcp[14] = 0xff;   // window 65535
  tcp[15] = 0xff;
  tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
  uint16_t c = transport_checksum(tcp, 20, tcp_len, 6, u);
  tcp[16] = (uint8_t)(c >> 8);
  tcp[17] = (uint8_t)c;
}

// Fills IPv4 + UDP headers for a frame of `size` bytes; the payload's first 4 bytes are `seq`.
static void fill_udp(uint8_t *f, long size, const udp_mode *u, uint32_t seq) {
  uint8_t *udp = f + 34, *payload = f + 42;
  uint16_t udp_len = (uint16_t)(size - 34);
  payload[0] = (uint8_t)(seq >> 24);
  payload[1] = (uint8_t)(seq >> 16);
  payload[2] = (uint8_t)(seq >> 8);
  payload[3] = (uint8_t)seq;
  fill_ipv4(f + 14, (uint16_t)(size - 14), seq, 17, u);
  udp[0] = 0;
  udp[1] = 9;
  udp[2] = (uint8_t)(u->port >> 8);
  udp[3] = (uint8_t)u->port;
  udp[4] = (uint8_t)(udp_len >> 8);
  udp[5] = (uint8_t)udp_len;
  udp[6] = udp[7] = 0;
  uint16_t c = transport_checksum(udp, udp_len, udp_len, 17, u);
  if (c == 0) c = 0xffff;
  udp[6] = (uint8_t)(c >> 8);
  udp[7] = (uint8_t)c;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return 0;
  for (int i = 0; i < 6; i++) {
    if (v[i] > 255) return 0;
    mac[i] = (uint8_t)v[i];
  }
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s IFNAME DST_MAC COUNT [FRAME_BYTES=60] [ETHERTYPE=0x88b5 | udp:SRC_IP:DST_IP:PORT | tcp:SRC_IP:DST_IP:PORT]\n", argv[0]);
    return 64;
  }
  const char *ifname = argv[1];
  uint8_t dst[6];
  if (!parse_mac(argv[2], dst)) {
    fprintf(stderr, "tap-blaster: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)\n", argv[2]);
    return 64;
  }
  long count = strtol(argv[3], NULL, 10);
  long size = argc > 4 ? strtol(argv[4], NULL, 10) : 60;
  long ethertype = 0x88b5;
  udp_mode udp;
  memset(&udp, 0, sizeof udp);
  if (argc > 5 && (strncmp(argv[5], "udp:", 4) == 0 || strncmp(argv[5], "tcp:", 4) == 0)) {
    unsigned a[4], b[4], port;
    if (sscanf(argv[5] + 4, "%u.%u.%u.%u:%u.%u.%u.%u:%u", &a[0], &a[1], &a[2], &a[3], &b[0], &b[1], &b[2], &b[3], &port) != 9 || port == 0 || port > 65535) {
      fprintf(stderr, "tap-blaster: '%s' is not udp:SRC_IP:DST_IP:PORT or tcp:SRC_IP:DST_IP:PORT (e.g. udp:192.0.2.1:192.0.2.2:7)\n", argv[5]);
      return 64;
    }
    for (int i = 0; i < 4; i++) {
      if (a[i] > 255 || b[i] > 255) {
        fprintf(stderr, "tap-blaster: bad IPv4 address in '%s'\n", argv[5]);
        return 64;
      }
      udp.src[i] = (uint8_t)a[i];
      udp.dst[i] = (uint8_t)b[i];
    }
    udp.port = (uint16_t)port;
    udp.enabled = argv[5][0] == 't' ? 6 : 17;
    ethertype = 0x0800;
  } else if (argc > 5) {
    ethertype = strtol(argv[5], NULL, 0);
  }
  int min_size = udp.enabled == 6 ? 55 : udp.enabled ? 46 : 18;
  if (count <= 0 || size < min_size || size > 9014 || ethertype < 0x600 || ethertype > 0xffff) {
    fprintf(stderr, "tap-blaster: COUNT must be > 0, FRAME_BYTES %d..9014, ETHERTYPE 0x0600..0xffff\n", min_size);
    return 64;
  }

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) {
    perror("tap-blaster: socket(AF_PACKET)");
    return 1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    fprintf(stderr, "tap-blaster: no interface %s: %s\n", ifname, strerror(errno));
    return 1;
  }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    perror("tap-blaster: SIOCGIFHWADDR");
    return 1;
  }
  uint8_t src[6];
  memcpy(src, ifr.ifr_hwaddr.sa_data, 6);
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);

  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = ifindex;
  addr.sll_halen = 6;
  memcpy(addr.sll_addr, dst, 6);

  static uint8_t frames[BATCH][9014];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    memset(frames[i], 0, (size_t)size);
    memcpy(frames[i], dst, 6);
    memcpy(frames[i] + 6, src, 6);
    frames[i][12] = (uint8_t)(ethertype >> 8);
    frames[i][13] = (uint8_t)ethertype;
    iov[i].iov_base = frames[i];
    iov[i].iov_len = (size_t)size;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &addr;
    msgs[i].msg_hdr.msg_namelen = sizeof addr;
  }

  long sent = 0, retries = 0;
  double start = now_s();
  while (sent < count) {
    int n = (int)(count - sent < BATCH ? count - sent : BATCH);
    for (int i = 0; i < n; i++) {
      uint32_t seq = (uint32_t)(sent + i);
      if (udp.enabled) {
        if (udp.enabled == 6) fill_tcp(frames[i], size, &udp, seq);
        else fill_udp(frames[i], size, &udp, seq);
        continue;
      }
      frames[i][14] = (uint8_t)(seq >> 24);
      frames[i][15] = (uint8_t)(seq >> 16);
      frames[i][16] = (uint8_t)(seq >> 8);
      frames[i][17] = (uint8_t)seq;
    }
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
        retries++;
        sched_yield();
        continue;
      }
      fprintf(stderr, "tap-blaster: sendmmsg on %s: %s\n", ifname, strerror(errno));
      return 1;
    }
    sent += r;
  }
  double seconds = now_s() - start;
  printf("{\"sent\":%ld,\"retries\":%ld,\"seconds\":%.6f}\n", sent, retries, seconds);
  return 0;
}
