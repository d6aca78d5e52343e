// tap-blaster: makes the kernel send N Ethernet frames out of an interface as fast as it can
// (AF_PACKET + sendmmsg, qdisc bypassed), to measure how fast a TAP reader can take them.
//
//   tap-blaster IFNAME DST_MAC COUNT [FRAME_BYTES=60] [ETHERTYPE=0x88b5]
//
// Frames go from the interface's own MAC to DST_MAC; bytes 14..17 carry a big-endian sequence
// number. Prints one JSON line: {"sent":N,"retries":R,"seconds":S}. Needs CAP_NET_RAW.
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
    fprintf(stderr, "usage: %s IFNAME DST_MAC COUNT [FRAME_BYTES=60] [ETHERTYPE=0x88b5]\n", argv[0]);
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
  long ethertype = argc > 5 ? strtol(argv[5], NULL, 0) : 0x88b5;
  if (count <= 0 || size < 18 || size > 9014 || ethertype < 0x600 || ethertype > 0xffff) {
    fprintf(stderr, "tap-blaster: COUNT must be > 0, FRAME_BYTES 18..9014, ETHERTYPE 0x0600..0xffff\n");
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
