/* bench:tcp comparison target: lwIP (Debian liblwip-dev, its tapif driver) on a TAP, measuring
 * TCP receive (sink) or send (source) throughput against the kernel. Prints one JSON line.
 *
 *   lwip_bench recv PORT            accept one connection, read to EOF
 *   lwip_bench send IP PORT BYTES   connect, write BYTES, close
 *
 * The TAP is named by PRECONFIGURED_TAPIF (tapif opens it, it must already exist). Our address
 * comes from LWIP_IP (default 192.0.2.2/24). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lwip/opt.h"
#include "lwip/init.h"
#include "lwip/tcpip.h"
#include "lwip/netif.h"
#include "lwip/sockets.h"
#include "lwip/ip_addr.h"
#include "netif/tapif.h"
#include "netif/etharp.h"
#include "lwip/pbuf.h"
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <linux/if.h>
#include <linux/if_tun.h>

/* Debian's tapif corrupts its heap on receive (valgrind: pbuf_take past a PBUF_POOL pbuf), so by
 * default frames go through this small driver instead: one read per frame into a PBUF_RAM pbuf.
 * LWIP_TAPIF=debian selects the library's driver. */
static int tap_fd = -1;

static err_t tap_output(struct netif *netif, struct pbuf *p) {
  (void)netif;
  static char frame[2048];
  u16_t n = pbuf_copy_partial(p, frame, sizeof frame, 0);
  return write(tap_fd, frame, n) == n ? ERR_OK : ERR_IF;
}

static void *tap_reader(void *arg) {
  struct netif *netif = arg;
  static char frame[65536];
  for (;;) {
    ssize_t n = read(tap_fd, frame, sizeof frame);
    if (n <= 0) continue;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
    if (!p) continue;
    memcpy(p->payload, frame, n);
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
  }
  return NULL;
}

static err_t own_tap_init(struct netif *netif) {
  const char *name = getenv("PRECONFIGURED_TAPIF");
  struct ifreq ifr;
  tap_fd = open("/dev/net/tun", O_RDWR);
  if (tap_fd < 0) return ERR_IF;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name ? name : "tap0", IFNAMSIZ - 1);
  if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0) return ERR_IF;
  netif->name[0] = 't';
  netif->name[1] = 'p';
  netif->output = etharp_output;
  netif->linkoutput = tap_output;
  netif->mtu = 1500;
  netif->hwaddr_len = 6;
  u8_t mac[6] = {0x02, 0x12, 0x34, 0x56, 0x78, 0xab};
  memcpy(netif->hwaddr, mac, 6);
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_LINK_UP;
  pthread_t t;
  pthread_create(&t, NULL, tap_reader, netif);
  return ERR_OK;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* Room to spare: the library may have been built with options that make struct netif larger
 * than these headers say. */
static struct netif *tap;
static sys_sem_t ready;

static void on_tcpip_ready(void *arg) {
  (void)arg;
  ip4_addr_t ip, mask, gw;
  const char *ips = getenv("LWIP_IP");
  ip4addr_aton(ips ? ips : "192.0.2.2", &ip);
  ip4addr_aton("255.255.255.0", &mask);
  ip4addr_aton("0.0.0.0", &gw);
  tap = calloc(1, sizeof(struct netif) + 4096);
  const char *driver = getenv("LWIP_TAPIF");
  netif_add(tap, &ip, &mask, &gw, NULL, driver && strcmp(driver, "debian") == 0 ? tapif_init : own_tap_init, tcpip_input);
  netif_set_default(tap);
  netif_set_up(tap);
  netif_set_link_up(tap);
  sys_sem_signal(&ready);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: lwip_bench recv PORT | send IP PORT BYTES\n");
    return 64;
  }
  sys_sem_new(&ready, 0);
  tcpip_init(on_tcpip_ready, NULL);
  sys_sem_wait(&ready);
  static char buf[65536];
  long long total = 0;
  double start = 0, end = 0;
  if (strcmp(argv[1], "recv") == 0) {
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = lwip_htons(atoi(argv[2]));
    a.sin_addr.s_addr = 0;
    if (lwip_bind(s, (struct sockaddr *)&a, sizeof a) < 0 || lwip_listen(s, 1) < 0) {
      fprintf(stderr, "lwip_bench: cannot listen on port %s\n", argv[2]);
      return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int c = lwip_accept(s, NULL, NULL);
    for (;;) {
      int n = lwip_recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (total == 0) start = now_s();
      total += n;
    }
    end = now_s();
    lwip_close(c);
  } else if (strcmp(argv[1], "send") == 0 && argc >= 5) {
    long long bytes = atoll(argv[4]);
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = lwip_htons(atoi(argv[3]));
    a.sin_addr.s_addr = inet_addr(argv[2]);
    if (lwip_connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
      fprintf(stderr, "lwip_bench: cannot connect to %s:%s\n", argv[2], argv[3]);
      return 1;
    }
    start = now_s();
    while (total < bytes) {
      long long left = bytes - total;
      int n = lwip_send(s, buf, left < (long long)sizeof buf ? (int)left : (int)sizeof buf, 0);
      if (n <= 0) break;
      total += n;
    }
    lwip_shutdown(s, SHUT_WR);
    /* Wait for the peer's FIN: everything we sent has been received. */
    while (lwip_recv(s, buf, sizeof buf, 0) > 0) {
    }
    end = now_s();
    lwip_close(s);
  } else {
    fprintf(stderr, "lwip_bench: unknown mode %s\n", argv[1]);
    return 64;
  }
  printf("{\"bytes\": %lld, \"seconds\": %.6f}\n", total, end - start);
  fflush(stdout);
  return 0;
}
