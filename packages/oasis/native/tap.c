#define _GNU_SOURCE
// Oasis TAP addon: a Linux TAP file descriptor driven by libuv's uv_poll.
//
// Receive: on each wake-up, up to a batch of frames is read into one JS-owned buffer and handed
// to JS in a single call (count; lengths in a JS-owned Uint32Array), because crossing into JS
// per frame costs far more than the read itself.
// Send: write() straight away; when the kernel says EAGAIN, frames wait in a bounded FIFO that is
// flushed when the fd becomes writable; beyond the bound they are dropped and counted.
//
// Offloads (opt-in, IFF_VNET_HDR + TUNSETOFFLOAD): every frame is preceded by a virtio_net_hdr.
// The kernel may then hand us TCP segments of up to 64 KB (GSO) with the transport checksum left
// partial, and accepts the same from us, so one system call carries tens of MTU-sized segments.
// Partial checksums from the kernel are completed here, before JS sees the frame, so every frame
// JS (or a pcap file) sees is valid on the wire; per-frame metadata tells JS the checksum is known
// good and the segment size the sender used.

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>
#include <unistd.h>

typedef struct queued_frame {
  struct queued_frame *next;
  struct virtio_net_hdr vnet;
  size_t len;
  uint8_t data[];
} queued_frame;

typedef struct {
  double rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped, tx_queued;
} tap_counters;

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t *poll;
  int poll_events;
  int closed;
  int listening;
  int in_callback;
  int vnet;      // frames carry a virtio_net_hdr (IFF_VNET_HDR)
  int offload;   // TUNSETOFFLOAD succeeded: GSO frames and partial checksums both ways
  char name[IFNAMSIZ];

  napi_ref rx_buffer_ref, rx_lengths_ref, rx_meta_ref, rx_callback_ref;
  napi_async_context async_context;
  uint8_t *rx_buf;
  size_t rx_cap;
  uint32_t *rx_lengths;
  uint32_t *rx_meta;  // per frame: RX_CHECKSUM_OK | segment size << 16 (NULL: not wanted)
  size_t rx_batch;
  size_t frame_max;

  queued_frame *queue_head, *queue_tail;
  size_t queue_len, queue_limit;
  int last_tx_errno;
  uint32_t simulated_busy;  // tests: this many more write attempts report EAGAIN

  tap_counters counters;
} tap_t;

#define RX_CHECKSUM_OK 1u

#define CHECK(env, call)                                    \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error((env), "EADDON", "napi call failed: " #call); \
      return NULL;                                          \
    }                                                       \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, const char *name, int err) {
  char code[32];
  char msg[256];
  snprintf(code, sizeof code, "%s", err == ENOENT ? "ENOENT" : err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == EBUSY ? "EBUSY" : err == EINVAL ? "EINVAL" : err == ENODEV ? "ENODEV" : "EOTHER");
  snprintf(msg, sizeof msg, "%s %s: %s (errno %d)", what, name, strerror(err), err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static void on_poll(uv_poll_t *handle, int status, int events);
static void release_rx(tap_t *t);

static void update_poll(tap_t *t) {
  if (t->closed) return;
  int want = (t->listening ? UV_READABLE : 0) | (t->queue_head ? UV_WRITABLE : 0);
  if (want == t->poll_events) return;
  if (want == 0) uv_poll_stop(t->poll);
  else uv_poll_start(t->poll, want, on_poll);
  t->poll_events = want;
}

static void free_queue(tap_t *t) {
  queued_frame *q = t->queue_head;
  while (q) {
    queued_frame *next = q->next;
    free(q);
    q = next;
  }
  t->queue_head = t->queue_tail = NULL;
  t->queue_len = 0;
}

// The Internet checksum of p[0..n) as RFC 1071 allows: summed in host byte order, so the folded
// result is stored back with memcpy, not byte-swapped.
static uint16_t inet_checksum(const uint8_t *p, size_t n) {
  uint64_t sum = 0;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    sum += (v & 0xffffffffu) + (v >> 32);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    uint16_t v;
    memcpy(&v, p, 2);
    sum += v;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint16_t v = 0;
    memcpy(&v, p, 1);
    sum += v;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

// Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field already
// holds the pseudo-header sum. Returns 0 when the offsets do not fit the frame.
static int complete_checksum(uint8_t *frame, size_t len, unsigned start, unsigned offset) {
  if ((size_t)start + offset + 2 > len) return 0;
  uint16_t c = inet_checksum(frame + start, len - start);
  // UDP (checksum at offset 6) sends a computed zero as all ones: zero there means "none".
  if (c == 0 && offset == 6) c = 0xffff;
  memcpy(frame + start + offset, &c, 2);
  return 1;
}

// 0: sent; 1: kernel busy (caller queues); -errno: lost.
static int send_now(tap_t *t, const struct virtio_net_hdr *vnet, const uint8_t *data, size_t len) {
  if (t->simulated_busy > 0) {
    t->simulated_busy--;
    return 1;
  }
  struct iovec iov[2] = {{(void *)vnet, sizeof *vnet}, {(void *)data, len}};
  for (;;) {
    ssize_t r = t->vnet ? writev(t->fd, iov, 2) : write(t->fd, data, len);
    if (r >= 0) {
      t->counters.tx_packets += 1;
      t->counters.tx_bytes += (double)len;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return 1;
    t->counters.tx_dropped += 1;
    t->last_tx_errno = errno;
    return -errno;
  }
}

// 0 queued, 2 dropped (queue full).
static int enqueue(tap_t *t, const struct virtio_net_hdr *vnet, const uint8_t *data, size_t len) {
  if (t->queue_len >= t->queue_limit) {
    t->counters.tx_dropped += 1;
    return 2;
  }
  queued_frame *q = malloc(sizeof(queued_frame) + len);
  if (!q) {
    t->counters.tx_dropped += 1;
    return 2;
  }
  q->next = NULL;
  q->vnet = *vnet;
  q->len = len;
  memcpy(q->data, data, len);
  if (t->queue_tail) t->queue_tail->next = q;
  else t->queue_head = q;
  t->queue_tail = q;
  t->queue_len++;
  t->counters.tx_queued += 1;
  update_poll(t);
  return 1;
}

// Returns 0 sent, 1 queued, 2 dropped (queue full), -errno lost to an error.
static int write_frame(tap_t *t, const struct virtio_net_hdr *vnet, const uint8_t *data, size_t len) {
  if (t->queue_head) return enqueue(t, vnet, data, len);  // keep order behind waiting frames
  int r = send_now(t, vnet, data, len);
  if (r == 1) return enqueue(t, vnet, data, len);
  return r;
}

static const struct virtio_net_hdr plain_frame;  // all zero: no checksum or segmentation request

static void flush_queue(tap_t *t) {
  while (t->queue_head) {
    queued_frame *q = t->queue_head;
    if (send_now(t, &q->vnet, q->data, q->len) == 1) break;
    t->queue_head = q->next;
    if (!t->queue_head) t->queue_tail = NULL;
    t->queue_len--;
    free(q);
  }
}

static void deliver(tap_t *t, size_t count, int err) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (napi_get_reference_value(env, t->rx_callback_ref, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_uint32(env, (uint32_t)count, &argv[0]);
    napi_create_int32(env, err, &argv[1]);
    t->in_callback = 1;
    napi_status s = napi_make_callback(env, t->async_context, recv, cb, 2, argv, &result);
    t->in_callback = 0;
    if (s == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    if (t->closed) {
      release_rx(t);
      if (t->async_context) napi_async_destroy(env, t->async_context);
      t->async_context = NULL;
    }
  }
  napi_close_handle_scope(env, scope);
}

static void drain(tap_t *t) {
  size_t off = 0, n = 0;
  int err = 0;
  // Read capacity is one byte more than the largest frame, so an oversize frame shows as too long.
  struct virtio_net_hdr vnet;
  while (n < t->rx_batch && off + t->frame_max + 1 <= t->rx_cap) {
    struct iovec iov[2] = {{&vnet, sizeof vnet}, {t->rx_buf + off, t->frame_max + 1}};
    ssize_t r = t->vnet ? readv(t->fd, iov, 2) : read(t->fd, t->rx_buf + off, t->frame_max + 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    uint32_t meta = 0;
    if (t->vnet) {
      r -= (ssize_t)sizeof vnet;
      if (r >= 14 && (size_t)r <= t->frame_max) {
        if (vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
          if (!complete_checksum(t->rx_buf + off, (size_t)r, vnet.csum_start, vnet.csum_offset)) r = -1;
          else meta = RX_CHECKSUM_OK;
        } else if (vnet.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
          meta = RX_CHECKSUM_OK;
        }
        if (vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) meta |= (uint32_t)vnet.gso_size << 16;
      }
    }
    if (r > (ssize_t)t->frame_max || r < 14) {
      t->counters.rx_dropped += 1;
      continue;
    }
    if (t->rx_meta) t->rx_meta[n] = meta;
    t->rx_lengths[n++] = (uint32_t)r;
    off += (size_t)r;
    t->counters.rx_packets += 1;
    t->counters.rx_bytes += (double)r;
  }
  if (err) {
    // The interface went away (or another fatal error): stop reading rather than spin.
    t->listening = 0;
    update_poll(t);
  }
  if (n > 0 || err) deliver(t, n, err);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  tap_t *t = handle->data;
  if (!t || t->closed) return;
  if (status < 0) {
    t->listening = 0;
    update_poll(t);
    deliver(t, 0, EIO);
    return;
  }
  if (events & UV_WRITABLE) flush_queue(t);
  if ((events & UV_READABLE) && t->listening) drain(t);
  if (!t->closed) update_poll(t);
}

static void free_poll(uv_handle_t *h) { free(h); }

static void release_rx(tap_t *t) {
  napi_env env = t->env;
  if (t->rx_buffer_ref) napi_delete_reference(env, t->rx_buffer_ref);
  if (t->rx_lengths_ref) napi_delete_reference(env, t->rx_lengths_ref);
  if (t->rx_meta_ref) napi_delete_reference(env, t->rx_meta_ref);
  if (t->rx_callback_ref) napi_delete_reference(env, t->rx_callback_ref);
  t->rx_buffer_ref = t->rx_lengths_ref = t->rx_meta_ref = t->rx_callback_ref = NULL;
  t->rx_buf = NULL;
  t->rx_lengths = NULL;
  t->rx_meta = NULL;
}

static void shutdown_tap(tap_t *t) {
  if (t->closed) return;
  t->closed = 1;
  t->listening = 0;
  uv_poll_stop(t->poll);
  t->poll->data = NULL;
  uv_close((uv_handle_t *)t->poll, free_poll);
  t->poll = NULL;
  // Leave a persistent TAP as a plain one for whoever opens it next.
  if (t->offload) ioctl(t->fd, TUNSETOFFLOAD, 0UL);
  close(t->fd);
  t->fd = -1;
  free_queue(t);
  // Inside the JS callback (close called from a listener) the context is still in use.
  if (!t->in_callback) {
    release_rx(t);
    if (t->async_context) napi_async_destroy(t->env, t->async_context);
    t->async_context = NULL;
  }
}

static void finalize_tap(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tap_t *t = data;
  shutdown_tap(t);
  free(t);
}

static tap_t *get_tap(napi_env env, napi_value v, int require_open) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "EINVAL", "expected a TAP handle");
    return NULL;
  }
  tap_t *t = data;
  if (require_open && t->closed) {
    napi_throw_error(env, "ECLOSED", "the TAP is closed");
    return NULL;
  }
  return t;
}

static int interface_mtu(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int r = ioctl(s, SIOCGIFMTU, &ifr);
  close(s);
  return r < 0 ? -1 : ifr.ifr_mtu;
}

// Opening happens in the namespace of the thread that opens /dev/net/tun (the TAP device is bound
// to it for good), so for another namespace a short-lived thread enters it, opens, and exits;
// the fd then works from any thread. setns only ever changes that helper thread.
typedef struct {
  const char *netns_path;
  char name[IFNAMSIZ];
  int fd;
  int mtu;
  int err;
  int created;
  int vnet;         // in: ask for IFF_VNET_HDR and offloads
  int offload;      // out: TUNSETOFFLOAD accepted
  const char *stage;
} open_request;

static void *open_in_namespace(void *arg) {
  open_request *req = arg;
  if (req->netns_path) {
    int nsfd = open(req->netns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      req->err = errno;
      req->stage = "cannot open network namespace";
      return NULL;
    }
    int r = setns(nsfd, CLONE_NEWNET);
    int e = errno;
    close(nsfd);
    if (r < 0) {
      req->err = e;
      req->stage = "cannot enter network namespace";
      return NULL;
    }
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    req->err = errno;
    req->stage = "cannot open /dev/net/tun for";
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (req->vnet ? IFF_VNET_HDR : 0);
  strncpy(ifr.ifr_name, req->name, IFNAMSIZ - 1);
  req->created = if_nametoindex(req->name) == 0;  // TUNSETIFF creates a missing TAP
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    req->err = errno;
    req->stage = "cannot attach to TAP";
    close(fd);
    return NULL;
  }
  memcpy(req->name, ifr.ifr_name, IFNAMSIZ);
  req->name[IFNAMSIZ - 1] = 0;
  if (req->vnet) {
    int hdr_size = (int)sizeof(struct virtio_net_hdr);
    // Without offloads the header stays (all zero): frames are then plain, MTU-sized ones.
    req->offload = ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) == 0 &&
                   ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == 0;
  } else {
    // Offloads belong to the interface, not the file: an earlier reader (one that crashed, or
    // another program) may have left them on, and without a virtio header the kernel would
    // then hand us 64 KB frames with unfinished checksums.
    ioctl(fd, TUNSETOFFLOAD, 0UL);
  }
  req->mtu = interface_mtu(req->name);
  req->fd = fd;
  return NULL;
}

// open(name: string, queueLimit: number, netnsPath?: string, offload?: boolean)
//   -> { handle, name, mtu, created, offload }
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1];
  size_t name_len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "open(name, queueLimit): name must be a string");
    return NULL;
  }
  if (name_len >= IFNAMSIZ) {
    napi_throw_range_error(env, "EINVAL", "interface names are at most 15 bytes");
    return NULL;
  }
  uint32_t queue_limit = 1024;
  if (argc >= 2) napi_get_value_uint32(env, argv[1], &queue_limit);
  char netns_path[4096];
  size_t netns_len = 0;
  napi_valuetype nstype = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &nstype);
  if (nstype == napi_string && napi_get_value_string_utf8(env, argv[2], netns_path, sizeof netns_path, &netns_len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "open: netnsPath must be a string");
    return NULL;
  }

  bool offload = false;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &offload);

  open_request req;
  memset(&req, 0, sizeof req);
  req.fd = -1;
  req.vnet = offload;
  memcpy(req.name, name, name_len + 1);
  if (netns_len > 0) {
    req.netns_path = netns_path;
    pthread_t thread;
    int e = pthread_create(&thread, NULL, open_in_namespace, &req);
    if (e != 0) return throw_errno(env, "cannot start a thread to open", name, e);
    pthread_join(thread, NULL);
  } else {
    open_in_namespace(&req);
  }
  if (req.fd < 0) {
    if (netns_len > 0 && strstr(req.stage, "namespace")) return throw_errno(env, req.stage, netns_path, req.err);
    return throw_errno(env, req.stage, name, req.err);
  }
  int fd = req.fd;

  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  tap_t *t = calloc(1, sizeof(tap_t));
  uv_poll_t *poll = calloc(1, sizeof(uv_poll_t));
  if (!t || !poll || uv_poll_init(loop, poll, fd) != 0) {
    free(t);
    free(poll);
    close(fd);
    napi_throw_error(env, "ENOMEM", "cannot set up polling for the TAP");
    return NULL;
  }
  t->env = env;
  t->fd = fd;
  t->poll = poll;
  poll->data = t;
  t->queue_limit = queue_limit;
  t->vnet = req.vnet;
  t->offload = req.offload;
  memcpy(t->name, req.name, IFNAMSIZ);

  napi_value handle, result, v, resource, resource_name;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "OasisTap", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &t->async_context) != napi_ok) {
    shutdown_tap(t);
    free(t);
    napi_throw_error(env, "EADDON", "napi_async_init failed");
    return NULL;
  }
  if (napi_create_external(env, t, finalize_tap, NULL, &handle) != napi_ok) {
    shutdown_tap(t);
    free(t);
    napi_throw_error(env, "EADDON", "napi_create_external failed");
    return NULL;
  }
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "handle", handle));
  CHECK(env, napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, result, "name", v));
  CHECK(env, napi_create_int32(env, req.mtu, &v));
  CHECK(env, napi_set_named_property(env, result, "mtu", v));
  CHECK(env, napi_get_boolean(env, req.created, &v));
  CHECK(env, napi_set_named_property(env, result, "created", v));
  CHECK(env, napi_get_boolean(env, t->offload, &v));
  CHECK(env, napi_set_named_property(env, result, "offload", v));
  return result;
}

// listen(handle, buffer: Uint8Array, lengths: Uint32Array, frameMax: number, callback(count, errno),
//        meta?: Uint32Array as long as lengths)
static napi_value tap_listen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "EINVAL", "listen(handle, buffer, lengths, frameMax, callback)");
    return NULL;
  }
  tap_t *t = get_tap(env, argv[0], 1);
  if (!t) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value ab;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &byte_offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "EINVAL", "listen: buffer must be a Uint8Array");
    return NULL;
  }
  uint8_t *buf = data;
  size_t cap = length;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &byte_offset) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, "EINVAL", "listen: lengths must be a Uint32Array");
    return NULL;
  }
  uint32_t frame_max;
  CHECK(env, napi_get_value_uint32(env, argv[3], &frame_max));
  if (frame_max < 14 || frame_max + 1 > cap || length == 0) {
    napi_throw_range_error(env, "EINVAL", "listen: the buffer must hold at least one frame of frameMax + 1 bytes");
    return NULL;
  }
  uint32_t *meta = NULL;
  napi_valuetype meta_type = napi_undefined;
  if (argc >= 6) napi_typeof(env, argv[5], &meta_type);
  if (meta_type != napi_undefined) {
    size_t meta_len;
    void *meta_data;
    if (napi_get_typedarray_info(env, argv[5], &type, &meta_len, &meta_data, &ab, &byte_offset) != napi_ok || type != napi_uint32_array || meta_len < length) {
      napi_throw_type_error(env, "EINVAL", "listen: meta must be a Uint32Array as long as lengths");
      return NULL;
    }
    meta = meta_data;
  }
  release_rx(t);
  if (meta) CHECK(env, napi_create_reference(env, argv[5], 1, &t->rx_meta_ref));
  t->rx_meta = meta;
  CHECK(env, napi_create_reference(env, argv[1], 1, &t->rx_buffer_ref));
  CHECK(env, napi_create_reference(env, argv[2], 1, &t->rx_lengths_ref));
  CHECK(env, napi_create_reference(env, argv[4], 1, &t->rx_callback_ref));
  t->rx_buf = buf;
  t->rx_cap = cap;
  t->rx_lengths = data;
  t->rx_batch = length;
  t->frame_max = frame_max;
  t->listening = 1;
  update_poll(t);
  return NULL;
}

static napi_value tap_unlisten(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 0);
  if (!t) return NULL;
  if (t->closed) return NULL;
  t->listening = 0;
  update_poll(t);
  // The references stay until the next listen or close: we may be inside the callback now.
  return NULL;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *d;
  if (napi_get_typedarray_info(env, v, &type, len, &d, &ab, &off) != napi_ok || type != napi_uint8_array) return 0;
  *data = d;
  return 1;
}

// write(handle, frame: Uint8Array, checksumStart?, checksumOffset?, segmentSize?)
//   -> 0 sent, 1 queued, 2 dropped (queue full), -errno lost
// With offloads: checksumStart > 0 asks the kernel to finish the checksum at checksumStart +
// checksumOffset (the field holds the pseudo-header sum); segmentSize > 0 asks it to cut the TCP
// payload into segments of that size.
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 1);
  if (!t) return NULL;
  uint8_t *data;
  size_t len;
  if (argc < 2 || !get_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, "EINVAL", "write: frame must be a Uint8Array");
    return NULL;
  }
  struct virtio_net_hdr vnet = plain_frame;
  if (argc >= 5 && t->vnet) {
    uint32_t start = 0, offset = 0, segment = 0;
    napi_get_value_uint32(env, argv[2], &start);
    napi_get_value_uint32(env, argv[3], &offset);
    napi_get_value_uint32(env, argv[4], &segment);
    if (start > 0) {
      if (!t->offload || (size_t)start + offset + 2 > len || start > 0xffff || offset > 0xffff) {
        napi_throw_range_error(env, "EINVAL", "write: the checksum offsets do not fit the frame, or offloads are off");
        return NULL;
      }
      vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      vnet.csum_start = (uint16_t)start;
      vnet.csum_offset = (uint16_t)offset;
      vnet.hdr_len = (uint16_t)(start + offset + 2);
    }
    if (segment > 0) {
      unsigned ethertype = (unsigned)data[12] << 8 | data[13];
      if (start == 0 || segment > 0xffff || (ethertype != 0x0800 && ethertype != 0x86dd)) {
        napi_throw_range_error(env, "EINVAL", "write: segmentation needs a TCP/IP frame with a partial checksum");
        return NULL;
      }
      vnet.gso_type = ethertype == 0x0800 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
      vnet.gso_size = (uint16_t)segment;
      // Headers through the TCP options: the kernel copies them into every segment.
      if ((size_t)start + 13 <= len) vnet.hdr_len = (uint16_t)(start + (data[start + 12] >> 4) * 4);
    }
  }
  napi_value r;
  CHECK(env, napi_create_int32(env, write_frame(t, &vnet, data, len), &r));
  return r;
}

// writeBatch(handle, buffer: Uint8Array, lengths: Uint32Array, count) -> frames not sent nor queued
static napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 1);
  if (!t) return NULL;
  uint8_t *buf;
  size_t cap;
  napi_typedarray_type type;
  size_t nlen;
  void *lens;
  napi_value ab;
  size_t off;
  uint32_t count;
  if (argc < 4 || !get_bytes(env, argv[1], &buf, &cap) ||
      napi_get_typedarray_info(env, argv[2], &type, &nlen, &lens, &ab, &off) != napi_ok || type != napi_uint32_array ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "writeBatch(handle, buffer: Uint8Array, lengths: Uint32Array, count)");
    return NULL;
  }
  if (count > nlen) count = (uint32_t)nlen;
  const uint32_t *lengths = lens;
  size_t pos = 0;
  uint32_t lost = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (pos + lengths[i] > cap) {
      napi_throw_range_error(env, "EINVAL", "writeBatch: lengths run past the end of the buffer");
      return NULL;
    }
    int r = write_frame(t, &plain_frame, buf + pos, lengths[i]);
    if (r != 0 && r != 1) lost++;
    pos += lengths[i];
  }
  napi_value r;
  CHECK(env, napi_create_uint32(env, lost, &r));
  return r;
}

static napi_value set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) != napi_ok) return NULL;
  napi_set_named_property(env, obj, key, v);
  return obj;
}

static napi_value tap_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 0);
  if (!t) return NULL;
  napi_value o;
  CHECK(env, napi_create_object(env, &o));
  set_number(env, o, "rxPackets", t->counters.rx_packets);
  set_number(env, o, "rxBytes", t->counters.rx_bytes);
  set_number(env, o, "rxDropped", t->counters.rx_dropped);
  set_number(env, o, "txPackets", t->counters.tx_packets);
  set_number(env, o, "txBytes", t->counters.tx_bytes);
  set_number(env, o, "txDropped", t->counters.tx_dropped);
  set_number(env, o, "txQueuedTotal", t->counters.tx_queued);
  set_number(env, o, "txQueueLength", (double)t->queue_len);
  set_number(env, o, "lastTxErrno", (double)t->last_tx_errno);
  bool reset = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &reset);
  if (reset) memset(&t->counters, 0, sizeof t->counters);
  return o;
}

static napi_value tap_simulate_busy(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 1);
  if (!t) return NULL;
  uint32_t n = 0;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "simulateBusy(handle, writes)");
    return NULL;
  }
  t->simulated_busy = n;
  return NULL;
}

static napi_value tap_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = get_tap(env, argv[0], 0);
  if (!t) return NULL;
  shutdown_tap(t);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, tap_listen, NULL, NULL, NULL, napi_default, NULL},
      {"unlisten", NULL, tap_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, tap_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, tap_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
      {"simulateBusy", NULL, tap_simulate_busy, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
