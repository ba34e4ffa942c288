/*
 * sfu._datapath — the per-packet steady state of the forwarder, in C.
 *
 * Python decides; this file only repeats a decision for every packet. A packet that
 * needs a decision (an unknown SSRC, RTX, a consumer waiting for a keyframe, switching
 * layer or rebasing) is handed back to the Python objects that own that logic; every
 * other packet goes from the socket callback to the subscriber's socket here:
 *
 *   Reader()                recvmmsg on a host candidate's socket, each datagram to
 *                           its protocol (the connection's Ingress once DTLS is up)
 *   Ingress(data, addr)     SRTP-unprotect, read the fixed header, find the LayerInlet
 *                           in the connection's LayerInletMap
 *   LayerInlet.deliver      receive statistics, audio level, then each Track
 *   Track.emit              rewrite SSRC/sequence/timestamp (and VP8 PictureID,
 *                           TL0PICIDX, KEYIDX), write mid, abs-send-time
 *                           and audio level with the subscriber's ids, keep the packet
 *                           in the NACK history, count it, hand it to the Egress
 *   Egress.send             SRTP-protect, sendto() on the nominated pair's socket
 *
 * SRTP with AES-GCM is srtp_aead.c (OpenSSL's EVP, keyed once a session); other
 * profiles use the libsrtp pylibsrtp (and so aiortc) already loaded: its function and
 * session pointers come from pylibsrtp's cffi binding.
 * Everything runs on the event loop's thread with the GIL held.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "srtp_aead.h"

typedef int (*srtp_fn)(void *ctx, void *header, int *length);

#define MAX_PACKET 4096
#define SRTP_MAX_TRAILER 144 /* libsrtp's bound; srtp_aead.c needs SRTP_AEAD_MAX_TRAILER */
#define ONE_BYTE_PROFILE 0xBEDE
#define TWO_BYTE_PROFILE 0x1000

/* separate work areas: a packet being received is still read while copies are sent */
static unsigned char rx_buffer[MAX_PACKET + SRTP_MAX_TRAILER];
static unsigned char tx_buffer[MAX_PACKET + SRTP_MAX_TRAILER];
static unsigned char call_buffer[MAX_PACKET + SRTP_MAX_TRAILER];
static PyObject *view_factory = NULL; /* RtpView.parse(data, arrival_ms) */
static PyObject *component_one = NULL; /* the key of aioice's nominated RTP pair */

#define ARRIVAL_NOW (-1LL) /* a packet just received: its arrival time is now */

static double monotonic_s(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* the clock of Python's time.monotonic() */
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ RTP header --- */

typedef struct {
    uint32_t ssrc;
    uint32_t timestamp;
    uint16_t sequence_number;
    int payload_type;
    int marker;
    int padding; /* length of the padding, 0 when none */
    Py_ssize_t payload_offset;
    int extension_profile;
    Py_ssize_t extension_start;
    Py_ssize_t extension_end;
} RtpHeader;

/* Same rules as RtpView.parse: 0 when the bytes are not a well-formed RTP packet. */
static int parse_rtp(const unsigned char *data, Py_ssize_t size, RtpHeader *h) {
    if (size < 12 || (data[0] >> 6) != 2)
        return 0;
    Py_ssize_t pos = 12 + 4 * (data[0] & 0x0F);
    h->extension_profile = 0;
    h->extension_start = h->extension_end = 0;
    if (data[0] & 0x10) {
        if (pos + 4 > size)
            return 0;
        h->extension_profile = (data[pos] << 8) | data[pos + 1];
        h->extension_start = pos + 4;
        h->extension_end = h->extension_start + 4 * ((data[pos + 2] << 8) | data[pos + 3]);
        pos = h->extension_end;
    }
    h->padding = (data[0] & 0x20) ? data[size - 1] : 0;
    if (pos + h->padding > size)
        return 0;
    h->marker = data[1] >> 7;
    h->payload_type = data[1] & 0x7F;
    h->sequence_number = (uint16_t)((data[2] << 8) | data[3]);
    h->timestamp = ((uint32_t)data[4] << 24) | ((uint32_t)data[5] << 16) |
                   ((uint32_t)data[6] << 8) | data[7];
    h->ssrc = ((uint32_t)data[8] << 24) | ((uint32_t)data[9] << 16) |
              ((uint32_t)data[10] << 8) | data[11];
    h->payload_offset = pos;
    return 1;
}

/* The value of one header extension (RFC 8285), as RtpView.extension finds it. The
 * block ends within the packet (parse_rtp checked it); an element is read only once it
 * is known to fit the block, and a walk stops at the first one that does not. */
static const unsigned char *find_extension(const unsigned char *data, const RtpHeader *h,
                                           int id, Py_ssize_t *length) {
    if (!id || !h->extension_end)
        return NULL;
    Py_ssize_t pos = h->extension_start, end = h->extension_end;
    if (h->extension_profile == ONE_BYTE_PROFILE) {
        while (pos < end) {
            int byte = data[pos];
            if (byte == 0) {
                pos += 1;
                continue;
            }
            int element = byte >> 4, size = (byte & 0x0F) + 1;
            if (element == 15 || pos + 1 + size > end)
                return NULL; /* the rest is not to be read, or does not fit the block */
            if (element == id) {
                *length = size;
                return data + pos + 1;
            }
            pos += 1 + size;
        }
        return NULL;
    }
    if ((h->extension_profile & 0xFFF0) == TWO_BYTE_PROFILE) {
        while (pos + 1 < end) {
            int element = data[pos];
            if (element == 0) {
                pos += 1;
                continue;
            }
            int size = data[pos + 1];
            if (pos + 2 + size > end)
                return NULL; /* runs past the block (and perhaps the packet) */
            if (element == id) {
                *length = size;
                return data + pos + 2;
            }
            pos += 2 + size;
        }
    }
    return NULL;
}

static int read_buffer(PyObject *object, Py_buffer *view) {
    return PyObject_GetBuffer(object, view, PyBUF_SIMPLE);
}

/* ------------------------------------------------------------------------ Srtp --- */

typedef struct {
    PyObject_HEAD
    PyObject *owner; /* the pylibsrtp Session: keeps the libsrtp context alive */
    void *context;
    srtp_fn protect;
    srtp_fn unprotect;
    srtp_fn protect_rtcp;
    srtp_fn unprotect_rtcp;
    char aead; /* srtp_aead.c's, not libsrtp's */
} Srtp;

static int Srtp_init(Srtp *self, PyObject *args, PyObject *kwargs) {
    PyObject *owner;
    unsigned long long context, protect, unprotect, protect_rtcp, unprotect_rtcp;
    if (!PyArg_ParseTuple(args, "OKKKKK", &owner, &context, &protect, &unprotect, &protect_rtcp,
                          &unprotect_rtcp))
        return -1;
    if (!context || !protect || !unprotect || !protect_rtcp || !unprotect_rtcp) {
        PyErr_SetString(PyExc_ValueError, "null libsrtp pointer");
        return -1;
    }
    Py_XSETREF(self->owner, Py_NewRef(owner));
    self->context = (void *)(uintptr_t)context;
    self->protect = (srtp_fn)(uintptr_t)protect;
    self->unprotect = (srtp_fn)(uintptr_t)unprotect;
    self->protect_rtcp = (srtp_fn)(uintptr_t)protect_rtcp;
    self->unprotect_rtcp = (srtp_fn)(uintptr_t)unprotect_rtcp;
    self->aead = 0;
    return 0;
}

static void Srtp_dealloc(Srtp *self) {
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* libsrtp on a copy of data in buffer; the new length, or -1 ("drop it"). */
static int srtp_apply(Srtp *self, srtp_fn function, const unsigned char *data,
                      Py_ssize_t size, unsigned char *buffer) {
    if (self->context == NULL || size > MAX_PACKET)
        return -1;
    memcpy(buffer, data, (size_t)size);
    int length = (int)size;
    if (function(self->context, buffer, &length) != 0)
        return -1;
    return length;
}

static PyObject *Srtp_call(Srtp *self, PyObject *data, srtp_fn function) {
    Py_buffer view;
    if (read_buffer(data, &view) < 0)
        return NULL;
    int length = srtp_apply(self, function, view.buf, view.len, call_buffer);
    PyBuffer_Release(&view);
    if (length < 0)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)call_buffer, length);
}

static PyObject *Srtp_protect(Srtp *self, PyObject *data) {
    return Srtp_call(self, data, self->protect);
}
static PyObject *Srtp_unprotect(Srtp *self, PyObject *data) {
    return Srtp_call(self, data, self->unprotect);
}
static PyObject *Srtp_protect_rtcp(Srtp *self, PyObject *data) {
    return Srtp_call(self, data, self->protect_rtcp);
}
static PyObject *Srtp_unprotect_rtcp(Srtp *self, PyObject *data) {
    return Srtp_call(self, data, self->unprotect_rtcp);
}

static PyObject *Srtp_close(Srtp *self, PyObject *unused) {
    self->context = NULL;
    Py_CLEAR(self->owner);
    Py_RETURN_NONE;
}

static PyMethodDef Srtp_methods[] = {
    {"protect", (PyCFunction)Srtp_protect, METH_O, "SRTP-protect one RTP packet (None: drop)."},
    {"unprotect", (PyCFunction)Srtp_unprotect, METH_O,
     "Unprotect one SRTP packet (None: forged, replayed or too long)."},
    {"protect_rtcp", (PyCFunction)Srtp_protect_rtcp, METH_O, "SRTCP-protect (None: drop)."},
    {"unprotect_rtcp", (PyCFunction)Srtp_unprotect_rtcp, METH_O,
     "Unprotect one SRTCP packet (None: forged, replayed or too long)."},
    {"close", (PyCFunction)Srtp_close, METH_NOARGS, "Forget the session: every call drops."},
    {NULL}};

static PyMemberDef Srtp_members[] = {
    {"aead", T_BOOL, offsetof(Srtp, aead), READONLY, "AES-GCM on srtp_aead.c, not libsrtp."},
    {NULL}};

static PyTypeObject SrtpType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Srtp",
    .tp_doc = "One libsrtp session: Srtp(owner, context, protect, unprotect, protect_rtcp, "
              "unprotect_rtcp), the last five as C addresses.",
    .tp_basicsize = sizeof(Srtp),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Srtp_init,
    .tp_dealloc = (destructor)Srtp_dealloc,
    .tp_methods = Srtp_methods,
    .tp_members = Srtp_members,
};

static void aead_release(PyObject *capsule) {
    srtp_aead_free(PyCapsule_GetPointer(capsule, "sfu.srtp_aead"));
}

/* An Srtp on srtp_aead.c: the same calls from the datapath, no libsrtp underneath. */
static PyObject *aead_srtp(PyObject *module, PyObject *master) {
    Py_buffer view;
    if (read_buffer(master, &view) < 0)
        return NULL;
    srtp_aead *session = srtp_aead_new(view.buf, (size_t)view.len);
    Py_ssize_t length = view.len;
    PyBuffer_Release(&view);
    if (session == NULL) {
        if (length == 28 || length == 44)
            return PyErr_NoMemory();
        return PyErr_Format(PyExc_ValueError,
                            "an AES-GCM master key and salt is 28 or 44 bytes, not %zd", length);
    }
    PyObject *owner = PyCapsule_New(session, "sfu.srtp_aead", aead_release);
    if (owner == NULL) {
        srtp_aead_free(session);
        return NULL;
    }
    Srtp *srtp = (Srtp *)SrtpType.tp_alloc(&SrtpType, 0);
    if (srtp == NULL) {
        Py_DECREF(owner);
        return NULL;
    }
    srtp->owner = owner;
    srtp->context = session;
    srtp->protect = srtp_aead_protect;
    srtp->unprotect = srtp_aead_unprotect;
    srtp->protect_rtcp = srtp_aead_protect_rtcp;
    srtp->unprotect_rtcp = srtp_aead_unprotect_rtcp;
    srtp->aead = 1;
    return (PyObject *)srtp;
}

/* -------------------------------------------------------------------- Counters --- */

typedef struct {
    PyObject_HEAD
    unsigned long long packets_in, bytes_in, packets_out, bytes_out;
} Counters;

static PyMemberDef Counters_members[] = {
    {"packets_in", T_ULONGLONG, offsetof(Counters, packets_in), 0, NULL},
    {"bytes_in", T_ULONGLONG, offsetof(Counters, bytes_in), 0, NULL},
    {"packets_out", T_ULONGLONG, offsetof(Counters, packets_out), 0, NULL},
    {"bytes_out", T_ULONGLONG, offsetof(Counters, bytes_out), 0, NULL},
    {NULL}};

static PyTypeObject CountersType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Counters",
    .tp_doc = "A room's media counters, bumped on every packet in and out.",
    .tp_basicsize = sizeof(Counters),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_members = Counters_members,
};

/* -------------------------------------------------------------- batched sends --- */
/*
 * Protected packets wait here until the event loop has run every callback of the
 * current wake-up, then leave by sendmmsg(), consecutive packets of one socket in one
 * call. The receiving side is woken once a batch, not once a packet: on loopback and
 * in virtual machines that wake-up, not the copy, is what a datagram costs. A flush is
 * scheduled through the running loop (set_flush_scheduler); with no loop, or when the
 * queue is full, or when a scheduled flush has not run within FLUSH_OVERDUE_S, it
 * happens at once.
 *
 * Each packet carries its sender's priority: audio (1) before video and retransmissions
 * (0) before padding probes (-1). A flush sends each socket's packets in that order,
 * stable within a level, so the packets of one SSRC (always one level) keep their
 * order: a keyframe's burst queued in the same wake-up no longer goes ahead of audio
 * into a subscriber's bottleneck queue, where a shaper drops what exceeds its rate.
 * The order is an index counting-sorted over the three levels; nothing is copied.
 */
#define PENDING_MAX 256
#define PENDING_SLOT 2048
#define SENDMMSG_MAX 64
#define FLUSH_OVERDUE_S 0.05
#define PRIORITY_LOWEST (-1) /* padding */
#define PRIORITY_HIGHEST 1   /* audio */
#define PRIORITY_LEVELS (PRIORITY_HIGHEST - PRIORITY_LOWEST + 1)

static unsigned char pending_data[PENDING_MAX][PENDING_SLOT];
static int pending_length[PENDING_MAX];
static int pending_fd[PENDING_MAX];
static struct sockaddr_storage pending_address[PENDING_MAX];
static socklen_t pending_address_length[PENDING_MAX];
static signed char pending_priority[PENDING_MAX];
static int pending_count = 0;
static int flush_scheduled = 0;
static int reading = 0; /* inside Reader_call: it sends what was queued when it returns */
static double flush_scheduled_at = 0.0;
static PyObject *flush_scheduler = NULL;
static unsigned long long batches = 0, batched_packets = 0, batch_errors = 0;

/* Fill order[] with the pending slots, highest priority first, queue order within a
 * level (a counting sort: one pass to count, one to place). */
static void pending_order(int order[PENDING_MAX]) {
    int start[PRIORITY_LEVELS] = {0};
    int ordered = 1;
    for (int k = 0; k < pending_count; k++) {
        start[PRIORITY_HIGHEST - pending_priority[k]]++;
        if (k > 0 && pending_priority[k] > pending_priority[k - 1])
            ordered = 0;
    }
    if (ordered) { /* one level, or already in order: most batches */
        for (int k = 0; k < pending_count; k++)
            order[k] = k;
        return;
    }
    for (int level = 0, next = 0; level < PRIORITY_LEVELS; level++) {
        int count = start[level];
        start[level] = next;
        next += count;
    }
    for (int k = 0; k < pending_count; k++)
        order[start[PRIORITY_HIGHEST - pending_priority[k]]++] = k;
}

static void flush_pending(void) {
    struct mmsghdr messages[SENDMMSG_MAX];
    struct iovec vectors[SENDMMSG_MAX];
    int order[PENDING_MAX];
    pending_order(order);
    int i = 0;
    while (i < pending_count) {
        int fd = pending_fd[order[i]], count = 0;
        while (i + count < pending_count && count < SENDMMSG_MAX &&
               pending_fd[order[i + count]] == fd) {
            int k = order[i + count];
            vectors[count].iov_base = pending_data[k];
            vectors[count].iov_len = (size_t)pending_length[k];
            memset(&messages[count], 0, sizeof(messages[count]));
            messages[count].msg_hdr.msg_name = &pending_address[k];
            messages[count].msg_hdr.msg_namelen = pending_address_length[k];
            messages[count].msg_hdr.msg_iov = &vectors[count];
            messages[count].msg_hdr.msg_iovlen = 1;
            count++;
        }
        int sent = sendmmsg(fd, messages, (unsigned int)count, MSG_DONTWAIT);
        batches++;
        if (sent < 0) {
            batch_errors += (unsigned long long)count; /* full buffer or closed socket */
            i += count;
        } else if (sent < count) {
            batched_packets += (unsigned long long)sent;
            batch_errors++; /* the one that failed; the rest are tried again */
            i += sent + 1;
        } else {
            batched_packets += (unsigned long long)sent;
            i += count;
        }
    }
    pending_count = 0;
    flush_scheduled = 0;
}

static void schedule_flush(void) {
    if (reading)
        return; /* the wake-up's reader flushes once it has drained its socket */
    if (flush_scheduled) {
        if (monotonic_s() - flush_scheduled_at < FLUSH_OVERDUE_S)
            return;
        flush_pending(); /* its loop never ran it (closed, or not running) */
        return;
    }
    if (flush_scheduler == NULL || flush_scheduler == Py_None) {
        flush_pending();
        return;
    }
    PyObject *result = PyObject_CallNoArgs(flush_scheduler);
    if (result == NULL) {
        PyErr_Clear();
        flush_pending();
        return;
    }
    Py_DECREF(result);
    flush_scheduled = 1;
    flush_scheduled_at = monotonic_s();
}

/* ---------------------------------------------------------------------- Egress --- */

#define SEND_LOG 2048 /* transport-wide numbers remembered: 40 s of audio at 50 packets/s */

typedef struct {
    PyObject_HEAD
    Srtp *tx;
    PyObject *nominated;  /* aioice's {component: CandidatePair} */
    PyObject *pair;       /* the pair the socket and address below belong to */
    PyObject *impairment; /* test only: .admit(size) -> bool */
    int fd;
    struct sockaddr_storage address;
    socklen_t address_length;
    unsigned long long sent, send_errors;
    /* Transport-wide numbering (draft-holmer-rmcat-transport-wide-cc-extensions-01) of the
     * packets tracks with a transport_cc_id send here, and when each left: the
     * subscriber's feedback tells when each arrived, and the difference is the queue. */
    unsigned int transport_seq;           /* the next number */
    double send_log[SEND_LOG];            /* by number % SEND_LOG; 0: none */
    uint16_t send_log_seq[SEND_LOG];
} Egress;

static int Egress_traverse(Egress *self, visitproc visit, void *arg) {
    Py_VISIT(self->tx);
    Py_VISIT(self->nominated);
    Py_VISIT(self->pair);
    Py_VISIT(self->impairment);
    return 0;
}

static int Egress_clear(Egress *self) {
    Py_CLEAR(self->tx);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->impairment);
    return 0;
}

static void Egress_dealloc(Egress *self) {
    PyObject_GC_UnTrack(self);
    Egress_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Learn the socket and remote address of a newly nominated pair. */
static int egress_retarget(Egress *self, PyObject *pair) {
    int ok = 0;
    PyObject *protocol = NULL, *transport = NULL, *sock = NULL, *fileno = NULL, *remote = NULL;
    protocol = PyObject_GetAttrString(pair, "protocol");
    if (protocol)
        transport = PyObject_GetAttrString(protocol, "transport");
    if (transport && transport != Py_None)
        sock = PyObject_CallMethod(transport, "get_extra_info", "s", "socket");
    if (sock && sock != Py_None)
        fileno = PyObject_CallMethod(sock, "fileno", NULL);
    if (fileno)
        remote = PyObject_GetAttrString(pair, "remote_addr");
    if (remote && PyTuple_Check(remote) && PyTuple_GET_SIZE(remote) >= 2) {
        const char *host = PyUnicode_AsUTF8(PyTuple_GET_ITEM(remote, 0));
        long port = PyLong_AsLong(PyTuple_GET_ITEM(remote, 1));
        long fd = PyLong_AsLong(fileno);
        if (host && port >= 0 && port <= 65535 && fd >= 0 && !PyErr_Occurred()) {
            memset(&self->address, 0, sizeof(self->address));
            struct sockaddr_in *v4 = (struct sockaddr_in *)&self->address;
            struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->address;
            if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons((uint16_t)port);
                self->address_length = sizeof(*v4);
                ok = 1;
            } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons((uint16_t)port);
                self->address_length = sizeof(*v6);
                ok = 1;
            }
            if (ok) {
                self->fd = (int)fd;
                Py_XSETREF(self->pair, Py_NewRef(pair));
            }
        }
    }
    Py_XDECREF(protocol);
    Py_XDECREF(transport);
    Py_XDECREF(sock);
    Py_XDECREF(fileno);
    Py_XDECREF(remote);
    PyErr_Clear();
    return ok;
}

/* Whether a packet of this size may leave now: 1 yes, 0 lost on the (test-only)
 * simulated network, which the caller counts as sent, -1 no (the connection is not up). */
static int egress_admit(Egress *self, Py_ssize_t size) {
    if (self->tx == NULL || self->tx->context == NULL || self->nominated == NULL)
        return -1;
    PyObject *pair = PyDict_GetItemWithError(self->nominated, component_one);
    if (pair == NULL) {
        PyErr_Clear();
        return -1;
    }
    if (pair != self->pair && !egress_retarget(self, pair))
        return -1;
    if (self->impairment != NULL && self->impairment != Py_None) {
        PyObject *admitted = PyObject_CallMethod(self->impairment, "admit", "n", size);
        if (admitted == NULL) {
            PyErr_Clear();
            return -1;
        }
        int keep = PyObject_IsTrue(admitted);
        Py_DECREF(admitted);
        if (keep <= 0)
            return 0;
    }
    return 1;
}

/* Protect with function and send at once; 1 sent. */
static int egress_send_now(Egress *self, srtp_fn function, const unsigned char *data,
                           Py_ssize_t size) {
    int length = srtp_apply(self->tx, function, data, size, tx_buffer);
    if (length < 0)
        return 0;
    if (sendto(self->fd, tx_buffer, (size_t)length, MSG_DONTWAIT,
               (struct sockaddr *)&self->address, self->address_length) < 0) {
        self->send_errors++; /* a full socket buffer drops, as a congested link would */
        return 0;
    }
    return 1;
}

/* Protect and queue one plain RTP packet for the batch at a priority within
 * PRIORITY_LOWEST..PRIORITY_HIGHEST: 1 queued (or lost on the simulated network), 0 not
 * sent. */
static int egress_send(Egress *self, const unsigned char *data, Py_ssize_t size, int priority) {
    int admitted = egress_admit(self, size);
    if (admitted <= 0)
        return admitted == 0;
    if (size + SRTP_MAX_TRAILER > PENDING_SLOT) {
        if (!egress_send_now(self, self->tx->protect, data, size))
            return 0;
        self->sent++;
        return 1;
    }
    if (pending_count == PENDING_MAX)
        flush_pending();
    int slot = pending_count;
    int length = srtp_apply(self->tx, self->tx->protect, data, size, pending_data[slot]);
    if (length < 0)
        return 0;
    pending_length[slot] = length;
    pending_fd[slot] = self->fd;
    memcpy(&pending_address[slot], &self->address, sizeof(self->address));
    pending_address_length[slot] = self->address_length;
    pending_priority[slot] = (signed char)priority;
    pending_count++;
    self->sent++;
    schedule_flush();
    return 1;
}

/* Protect and send one plain RTCP packet at once (feedback is never held back). */
static int egress_send_rtcp(Egress *self, const unsigned char *data, Py_ssize_t size) {
    int admitted = egress_admit(self, size);
    if (admitted <= 0)
        return admitted == 0;
    return egress_send_now(self, self->tx->protect_rtcp, data, size);
}

static PyObject *Egress_attach(Egress *self, PyObject *args) {
    PyObject *tx, *nominated;
    if (!PyArg_ParseTuple(args, "O!O!", &SrtpType, &tx, &PyDict_Type, &nominated))
        return NULL;
    Py_XSETREF(self->tx, (Srtp *)Py_NewRef(tx));
    Py_XSETREF(self->nominated, Py_NewRef(nominated));
    Py_CLEAR(self->pair);
    Py_RETURN_NONE;
}

static PyObject *Egress_close(Egress *self, PyObject *unused) {
    Py_CLEAR(self->tx);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->pair);
    Py_RETURN_NONE;
}

/* Whether value is a priority a packet may be queued at; ValueError if not. */
static int check_priority(long value) {
    if (PyErr_Occurred())
        return 0; /* not an int, or too large for one */
    if (value >= PRIORITY_LOWEST && value <= PRIORITY_HIGHEST)
        return 1;
    PyErr_Format(PyExc_ValueError, "priority must be within %d..%d", PRIORITY_LOWEST,
                 PRIORITY_HIGHEST);
    return 0;
}

static PyObject *Egress_send(Egress *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"", "priority", NULL};
    PyObject *data;
    int priority = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|i:send", keywords, &data, &priority))
        return NULL;
    if (!check_priority(priority))
        return NULL;
    Py_buffer view;
    if (read_buffer(data, &view) < 0)
        return NULL;
    int sent = egress_send(self, view.buf, view.len, priority);
    PyBuffer_Release(&view);
    return PyBool_FromLong(sent);
}

static PyObject *Egress_send_rtcp(Egress *self, PyObject *data) {
    Py_buffer view;
    if (read_buffer(data, &view) < 0)
        return NULL;
    int sent = egress_send_rtcp(self, view.buf, view.len);
    PyBuffer_Release(&view);
    return PyBool_FromLong(sent);
}

/* When the packet of this transport-wide number left (None: not one we remember). */
static PyObject *Egress_sent_at(Egress *self, PyObject *arg) {
    long seq = PyLong_AsLong(arg);
    if (seq == -1 && PyErr_Occurred())
        return NULL;
    if (seq < 0 || seq > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "a transport-wide sequence number is 16 bits");
        return NULL;
    }
    int slot = (int)(seq % SEND_LOG);
    if (self->send_log[slot] <= 0.0 || self->send_log_seq[slot] != (uint16_t)seq)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->send_log[slot]);
}

static PyMethodDef Egress_methods[] = {
    {"sent_at", (PyCFunction)Egress_sent_at, METH_O,
     "sent_at(seq): monotonic time the packet of this transport-wide number left, or None."},
    {"send_rtcp", (PyCFunction)Egress_send_rtcp, METH_O,
     "Protect and send one RTCP packet now; False if not."},
    {"attach", (PyCFunction)Egress_attach, METH_VARARGS,
     "attach(tx: Srtp, nominated: dict): DTLS is up, send from now on."},
    {"close", (PyCFunction)Egress_close, METH_NOARGS, "The connection is gone: send nothing."},
    {"send", (PyCFunction)(void (*)(void))Egress_send, METH_VARARGS | METH_KEYWORDS,
     "send(packet, priority=0): protect and queue one RTP packet for the batch, sent before "
     "the batch's packets of lower priority (1 audio, 0 video, -1 padding); False if not."},
    {NULL}};

static PyMemberDef Egress_members[] = {
    {"impairment", T_OBJECT, offsetof(Egress, impairment), 0, "test only: admit(size)"},
    {"tx", T_OBJECT, offsetof(Egress, tx), READONLY, "Srtp, once attached"},
    {"sent", T_ULONGLONG, offsetof(Egress, sent), READONLY, NULL},
    {"send_errors", T_ULONGLONG, offsetof(Egress, send_errors), READONLY, NULL},
    {"transport_seq", T_UINT, offsetof(Egress, transport_seq), READONLY,
     "the next transport-wide sequence number (16 bits used)"},
    {NULL}};

static PyTypeObject EgressType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Egress",
    .tp_doc = "One subscriber connection's RTP output: SRTP, then its nominated pair.",
    .tp_basicsize = sizeof(Egress),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Egress_dealloc,
    .tp_traverse = (traverseproc)Egress_traverse,
    .tp_clear = (inquiry)Egress_clear,
    .tp_methods = Egress_methods,
    .tp_members = Egress_members,
};

/* ------------------------------------------------------ VP8 payload descriptor --- */
/*
 * Chrome names VP8 frames by PictureID and TL0PICIDX (RFC 7741 4.2), not by RTP
 * sequence numbers, and each simulcast layer may start both at its own random value: forwarded
 * as they are, a layer switch is a jump its reference finder and frame buffer refuse
 * (seconds of frozen picture). A track renumbers them, as it renumbers sequence numbers:
 * after a rebase (Python sets each *_in to -1) the first packet carries last sent + 1,
 * later pictures follow at the publisher's distance from it. PictureIDs always leave in
 * 15 bits (a 7-bit one grows the packet by a byte); KEYIDX is renumbered when K is set.
 * sfu/vp8_descriptor.py is the same in Python (the reference the tests compare with).
 */
#define VP8_MAX_DESCRIPTOR 6

typedef struct {
    int size;                        /* bytes */
    int picture_id, picture_id_bits; /* -1, 0: none */
    int tl0_pic_idx;                 /* -1: none */
    int key_idx;                     /* -1: K clear */
    int tid_at;                      /* offset of the TID/Y/KEYIDX byte, 0: none */
} Vp8Descriptor;

typedef struct {
    int picture_id_in, picture_id_out; /* the newest publisher value and what it became */
    int tl0_in, tl0_out;               /* *_in < 0: the next one continues *_out + 1 */
    int key_idx_in, key_idx_out;
} Vp8Numbering;

/* 0 when the descriptor does not fit in length bytes. */
static int parse_vp8(const unsigned char *p, Py_ssize_t length, Vp8Descriptor *d) {
    d->picture_id = d->tl0_pic_idx = d->key_idx = -1;
    d->picture_id_bits = d->tid_at = 0;
    if (length < 1)
        return 0;
    if (!(p[0] & 0x80)) {
        d->size = 1;
        return 1;
    }
    if (length < 2)
        return 0;
    int x = p[1], pos = 2;
    if (x & 0x80) { /* I */
        if (pos >= length)
            return 0;
        if (p[pos] & 0x80) {
            if (pos + 2 > length)
                return 0;
            d->picture_id = ((p[pos] & 0x7F) << 8) | p[pos + 1];
            d->picture_id_bits = 15;
            pos += 2;
        } else {
            d->picture_id = p[pos];
            d->picture_id_bits = 7;
            pos += 1;
        }
    }
    if (x & 0x40) { /* L */
        if (pos >= length)
            return 0;
        d->tl0_pic_idx = p[pos++];
    }
    if (x & 0x30) { /* T or K */
        if (pos >= length)
            return 0;
        if (x & 0x10)
            d->key_idx = p[pos] & 0x1F;
        d->tid_at = pos++;
    }
    d->size = pos;
    return 1;
}

/* value (of bits bits) renumbered: its distance from the newest one seen, taken modulo
 * its width (a 7-bit PictureID wraps at 128), added to what that one became. */
static int vp8_map(int value, int bits, int *last_in, int *last_out, int out_mask) {
    if (*last_in < 0) {
        *last_in = value;
        *last_out = (*last_out + 1) & out_mask;
        return *last_out;
    }
    int modulus = 1 << bits;
    int distance = (int)(((unsigned)value - (unsigned)*last_in) & (unsigned)(modulus - 1));
    if (distance >= modulus / 2)
        distance -= modulus; /* an older picture, reordered */
    int out = (*last_out + distance) & out_mask;
    if (distance > 0) {
        *last_in = value;
        *last_out = out;
    }
    return out;
}

/* The renumbered descriptor in out (VP8_MAX_DESCRIPTOR bytes at most): its length. */
static int vp8_rewrite(Vp8Numbering *n, const unsigned char *p, const Vp8Descriptor *d,
                       unsigned char *out) {
    int pos = 0;
    out[pos++] = p[0];
    if (!(p[0] & 0x80))
        return pos;
    out[pos++] = p[1];
    if (d->picture_id >= 0) {
        int id = vp8_map(d->picture_id, d->picture_id_bits, &n->picture_id_in,
                         &n->picture_id_out, 0x7FFF);
        out[pos++] = (unsigned char)(0x80 | (id >> 8)); /* M: 15 bits */
        out[pos++] = (unsigned char)id;
    }
    if (d->tl0_pic_idx >= 0)
        out[pos++] = (unsigned char)vp8_map(d->tl0_pic_idx, 8, &n->tl0_in, &n->tl0_out, 0xFF);
    if (d->tid_at) {
        unsigned char byte = p[d->tid_at];
        if (d->key_idx >= 0)
            byte = (unsigned char)((byte & 0xE0) |
                                   vp8_map(d->key_idx, 5, &n->key_idx_in, &n->key_idx_out, 0x1F));
        out[pos++] = byte;
    }
    return pos;
}

/* ----------------------------------------------------------------------- Track --- */

typedef struct {
    PyObject_HEAD
    Egress *egress;
    Counters *counters;
    PyObject *forward; /* Consumer.forward(view, layer, audio_level): the decisions */
    uint32_t ssrc;
    int payload_type;
    unsigned int seq_offset, ts_offset;
    int last_out_seq;
    unsigned int last_out_ts;
    double last_send_time; /* < 0: nothing sent yet */
    int frame_open;
    unsigned long long packets_sent, bytes_sent;
    int current_layer, target_layer; /* -1: none */
    int paused, needs_rebase, holding, configured;
    int vp8; /* renumber the VP8 payload descriptor */
    int priority; /* in its egress's batch: 1 audio, 0 video */
    Vp8Numbering numbering;
    unsigned char mid_element[17];
    int mid_element_length;
    int abs_send_time_id, audio_level_id, transport_cc_id;
    int history_size;
    PyObject **history;
    uint16_t *history_seq;
} Track;

static int Track_traverse(Track *self, visitproc visit, void *arg) {
    Py_VISIT(self->egress);
    Py_VISIT(self->counters);
    Py_VISIT(self->forward);
    return 0;
}

static int Track_clear(Track *self) {
    Py_CLEAR(self->egress);
    Py_CLEAR(self->counters);
    Py_CLEAR(self->forward);
    return 0;
}

static void Track_dealloc(Track *self) {
    PyObject_GC_UnTrack(self);
    Track_clear(self);
    if (self->history) {
        for (int i = 0; i < self->history_size; i++)
            Py_XDECREF(self->history[i]);
        PyMem_Free(self->history);
    }
    PyMem_Free(self->history_seq);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Track_init(Track *self, PyObject *args, PyObject *kwargs) {
    PyObject *egress, *counters;
    unsigned int ssrc;
    int history_size;
    if (!PyArg_ParseTuple(args, "O!O!Ii", &EgressType, &egress, &CountersType, &counters, &ssrc,
                          &history_size))
        return -1;
    if (history_size < 1 || history_size > 65536) {
        PyErr_SetString(PyExc_ValueError, "history_size must be within 1..65536");
        return -1;
    }
    Py_XSETREF(self->egress, (Egress *)Py_NewRef(egress));
    Py_XSETREF(self->counters, (Counters *)Py_NewRef(counters));
    self->ssrc = ssrc;
    self->payload_type = -1;
    self->last_send_time = -1.0;
    self->current_layer = -1;
    self->numbering.picture_id_in = self->numbering.tl0_in = self->numbering.key_idx_in = -1;
    self->history_size = history_size;
    self->history = PyMem_Calloc((size_t)history_size, sizeof(PyObject *));
    self->history_seq = PyMem_Calloc((size_t)history_size, sizeof(uint16_t));
    if (!self->history || !self->history_seq) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Rewrite one packet for this subscriber, keep it for NACKs and send it. */
static int track_emit(Track *self, const unsigned char *data, Py_ssize_t size,
                      const RtpHeader *h, int level, double now) {
    unsigned char elements[32];
    int count = 0;
    if (self->mid_element_length) {
        memcpy(elements, self->mid_element, (size_t)self->mid_element_length);
        count = self->mid_element_length;
    }
    if (self->abs_send_time_id) {
        uint32_t value = (uint32_t)(long long)(now * 262144.0) & 0xFFFFFF; /* 6.18 seconds */
        elements[count++] = (unsigned char)(self->abs_send_time_id << 4 | 2);
        elements[count++] = (unsigned char)(value >> 16);
        elements[count++] = (unsigned char)(value >> 8);
        elements[count++] = (unsigned char)value;
    }
    if (self->audio_level_id && level >= 0) {
        elements[count++] = (unsigned char)(self->audio_level_id << 4);
        elements[count++] = (unsigned char)level;
    }
    uint16_t transport_seq = (uint16_t)(self->egress->transport_seq & 0xFFFF);
    if (self->transport_cc_id) {
        elements[count++] = (unsigned char)(self->transport_cc_id << 4 | 1);
        elements[count++] = (unsigned char)(transport_seq >> 8);
        elements[count++] = (unsigned char)transport_seq;
    }
    int words = (count + 3) / 4;
    Py_ssize_t header = 12 + (count ? 4 + 4 * words : 0);
    Py_ssize_t rest = h->payload_offset; /* copied from here on as it came */
    unsigned char descriptor[VP8_MAX_DESCRIPTOR];
    int descriptor_length = 0;
    Vp8Descriptor vp8;
    if (self->vp8 && parse_vp8(data + rest, size - h->padding - rest, &vp8)) {
        descriptor_length = vp8_rewrite(&self->numbering, data + rest, &vp8, descriptor);
        rest += vp8.size;
    } /* else not VP8, or too short to be: as it came */
    Py_ssize_t payload = descriptor_length + (size - rest);
    PyObject *packet = PyBytes_FromStringAndSize(NULL, header + payload);
    if (packet == NULL)
        return -1;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(packet);
    uint16_t seq = (uint16_t)((h->sequence_number + self->seq_offset) & 0xFFFF);
    uint32_t ts = (uint32_t)(h->timestamp + self->ts_offset);
    out[0] = (unsigned char)(0x80 | (h->padding ? 0x20 : 0) | (count ? 0x10 : 0));
    out[1] = (unsigned char)((h->marker << 7) | (self->payload_type & 0x7F));
    out[2] = (unsigned char)(seq >> 8);
    out[3] = (unsigned char)seq;
    out[4] = (unsigned char)(ts >> 24);
    out[5] = (unsigned char)(ts >> 16);
    out[6] = (unsigned char)(ts >> 8);
    out[7] = (unsigned char)ts;
    out[8] = (unsigned char)(self->ssrc >> 24);
    out[9] = (unsigned char)(self->ssrc >> 16);
    out[10] = (unsigned char)(self->ssrc >> 8);
    out[11] = (unsigned char)self->ssrc;
    if (count) {
        out[12] = 0xBE;
        out[13] = 0xDE;
        out[14] = (unsigned char)(words >> 8);
        out[15] = (unsigned char)words;
        memcpy(out + 16, elements, (size_t)count);
        memset(out + 16 + count, 0, (size_t)(4 * words - count));
    }
    memcpy(out + header, descriptor, (size_t)descriptor_length);
    memcpy(out + header + descriptor_length, data + rest, (size_t)(size - rest));

    self->last_out_seq = seq;
    self->last_out_ts = ts;
    self->last_send_time = now;
    self->frame_open = !h->marker;
    int slot = seq % self->history_size;
    Py_XSETREF(self->history[slot], packet);
    self->history_seq[slot] = seq;
    if (!egress_send(self->egress, out, header + payload, self->priority))
        return 0; /* its transport-wide number goes to the next packet: no false gap */
    if (self->transport_cc_id) {
        int slot = transport_seq % SEND_LOG;
        self->egress->send_log[slot] = now;
        self->egress->send_log_seq[slot] = transport_seq;
        self->egress->transport_seq = (transport_seq + 1) & 0xFFFF;
    }
    Py_ssize_t length = header + payload;
    self->packets_sent++;
    self->bytes_sent += (unsigned long long)length;
    self->counters->packets_out++;
    self->counters->bytes_out += (unsigned long long)length;
    return 1;
}

static PyObject *Track_configure(Track *self, PyObject *args) {
    int payload_type, mid_id, abs_send_time_id, audio_level_id, transport_cc_id = 0;
    Py_buffer mid;
    if (!PyArg_ParseTuple(args, "iy*iii|i", &payload_type, &mid, &mid_id, &abs_send_time_id,
                          &audio_level_id, &transport_cc_id))
        return NULL;
    Py_ssize_t length = mid.len > 16 ? 16 : mid.len;
    self->mid_element_length = 0;
    if (mid_id > 0 && mid_id < 15 && length > 0) {
        self->mid_element[0] = (unsigned char)((mid_id << 4) | (length - 1));
        memcpy(self->mid_element + 1, mid.buf, (size_t)length);
        self->mid_element_length = (int)length + 1;
    }
    PyBuffer_Release(&mid);
    self->payload_type = payload_type & 0x7F;
    self->abs_send_time_id = (abs_send_time_id > 0 && abs_send_time_id < 15) ? abs_send_time_id : 0;
    self->audio_level_id = (audio_level_id > 0 && audio_level_id < 15) ? audio_level_id : 0;
    self->transport_cc_id = (transport_cc_id > 0 && transport_cc_id < 15) ? transport_cc_id : 0;
    self->configured = 1;
    Py_RETURN_NONE;
}

static PyObject *Track_emit(Track *self, PyObject *args) {
    Py_buffer data;
    RtpHeader h;
    PyObject *level;
    double now;
    if (!PyArg_ParseTuple(args, "y*Od", &data, &level, &now))
        return NULL;
    if (!self->configured || !parse_rtp(data.buf, data.len, &h)) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "not a well-formed RTP packet, or not configured");
        return NULL;
    }
    int value = -1;
    if (level != Py_None) {
        Py_buffer bytes;
        if (read_buffer(level, &bytes) < 0) {
            PyBuffer_Release(&data);
            return NULL;
        }
        if (bytes.len > 0)
            value = ((const unsigned char *)bytes.buf)[0];
        PyBuffer_Release(&bytes);
    }
    int sent = track_emit(self, data.buf, data.len, &h, value, now);
    PyBuffer_Release(&data);
    if (sent < 0)
        return NULL;
    return PyBool_FromLong(sent);
}

static PyObject *Track_history(Track *self, PyObject *arg) {
    long seq = PyLong_AsLong(arg);
    if (seq == -1 && PyErr_Occurred())
        return NULL;
    seq &= 0xFFFF;
    int slot = (int)(seq % self->history_size);
    PyObject *packet = self->history[slot];
    if (packet == NULL || self->history_seq[slot] != seq)
        Py_RETURN_NONE;
    return Py_NewRef(packet);
}

static PyObject *Track_get_last_send_time(Track *self, void *closure) {
    if (self->last_send_time < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->last_send_time);
}

static int Track_set_last_send_time(Track *self, PyObject *value, void *closure) {
    if (value == NULL || value == Py_None) {
        self->last_send_time = -1.0;
        return 0;
    }
    double time = PyFloat_AsDouble(value);
    if (time == -1.0 && PyErr_Occurred())
        return -1;
    self->last_send_time = time;
    return 0;
}

static PyObject *Track_get_priority(Track *self, void *closure) {
    return PyLong_FromLong(self->priority);
}

static int Track_set_priority(Track *self, PyObject *value, void *closure) {
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "priority cannot be deleted");
        return -1;
    }
    long priority = PyLong_AsLong(value);
    if (!check_priority(priority))
        return -1;
    self->priority = (int)priority;
    return 0;
}

static PyGetSetDef Track_getset[] = {
    {"last_send_time", (getter)Track_get_last_send_time, (setter)Track_set_last_send_time,
     "monotonic time of the last packet sent (None: none yet)", NULL},
    {"priority", (getter)Track_get_priority, (setter)Track_set_priority,
     "its packets' place in the egress batch: 1 audio (first), 0 video", NULL},
    {NULL}};

static PyMethodDef Track_methods[] = {
    {"configure", (PyCFunction)Track_configure, METH_VARARGS,
     "configure(payload_type, mid, mid_id, abs_send_time_id, audio_level_id, "
     "transport_cc_id=0)"},
    {"emit", (PyCFunction)Track_emit, METH_VARARGS,
     "emit(packet, audio_level, now): rewrite, keep for NACKs and send one packet."},
    {"history", (PyCFunction)Track_history, METH_O,
     "The packet sent with this sequence number, if still kept."},
    {NULL}};

static PyMemberDef Track_members[] = {
    {"forward", T_OBJECT, offsetof(Track, forward), 0, "slow path: forward(view, layer, level)"},
    {"egress", T_OBJECT, offsetof(Track, egress), READONLY,
     "where its packets leave: the slow path sends retransmissions and padding there"},
    {"ssrc", T_UINT, offsetof(Track, ssrc), READONLY, NULL},
    {"payload_type", T_INT, offsetof(Track, payload_type), READONLY, NULL},
    {"seq_offset", T_UINT, offsetof(Track, seq_offset), 0, NULL},
    {"ts_offset", T_UINT, offsetof(Track, ts_offset), 0, NULL},
    {"last_out_seq", T_INT, offsetof(Track, last_out_seq), 0, NULL},
    {"last_out_ts", T_UINT, offsetof(Track, last_out_ts), 0, NULL},
    {"frame_open", T_INT, offsetof(Track, frame_open), 0, NULL},
    {"packets_sent", T_ULONGLONG, offsetof(Track, packets_sent), 0, NULL},
    {"bytes_sent", T_ULONGLONG, offsetof(Track, bytes_sent), 0, NULL},
    {"current_layer", T_INT, offsetof(Track, current_layer), 0, NULL},
    {"target_layer", T_INT, offsetof(Track, target_layer), 0, NULL},
    {"paused", T_INT, offsetof(Track, paused), 0, NULL},
    {"needs_rebase", T_INT, offsetof(Track, needs_rebase), 0, NULL},
    {"holding", T_INT, offsetof(Track, holding), 0, NULL},
    {"configured", T_INT, offsetof(Track, configured), READONLY, NULL},
    {"vp8", T_INT, offsetof(Track, vp8), 0, "renumber PictureID, TL0PICIDX and KEYIDX"},
    {"picture_id_in", T_INT, offsetof(Track, numbering.picture_id_in), 0,
     "newest PictureID from the publisher (-1: the next continues picture_id_out + 1)"},
    {"picture_id_out", T_INT, offsetof(Track, numbering.picture_id_out), 0,
     "what it became (15 bits)"},
    {"tl0_pic_idx_in", T_INT, offsetof(Track, numbering.tl0_in), 0, NULL},
    {"tl0_pic_idx_out", T_INT, offsetof(Track, numbering.tl0_out), 0, NULL},
    {"key_idx_in", T_INT, offsetof(Track, numbering.key_idx_in), 0, NULL},
    {"key_idx_out", T_INT, offsetof(Track, numbering.key_idx_out), 0, NULL},
    {"history_size", T_INT, offsetof(Track, history_size), READONLY, NULL},
    {NULL}};

static PyTypeObject TrackType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Track",
    .tp_doc = "One consumer's rewrite state and NACK history: Track(egress, counters, ssrc, "
              "history_size).",
    .tp_basicsize = sizeof(Track),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Track_init,
    .tp_dealloc = (destructor)Track_dealloc,
    .tp_traverse = (traverseproc)Track_traverse,
    .tp_clear = (inquiry)Track_clear,
    .tp_methods = Track_methods,
    .tp_members = Track_members,
    .tp_getset = Track_getset,
};

/* ------------------------------------------------------------------ LayerInlet --- */

typedef struct {
    PyObject_HEAD
    Counters *counters;
    PyObject *tracks;   /* list of Track, shared by the layers of one producer */
    PyObject *on_level; /* on_level(level) for levels at or under level_threshold */
    PyObject *on_error; /* on_error(exception) when a decision raised */
    int layer, audio_level_id, level_threshold;
    unsigned long long packets, bytes, received;
    int max_seq;
    long long cycles;
} LayerInlet;

static int LayerInlet_traverse(LayerInlet *self, visitproc visit, void *arg) {
    Py_VISIT(self->counters);
    Py_VISIT(self->tracks);
    Py_VISIT(self->on_level);
    Py_VISIT(self->on_error);
    return 0;
}

static int LayerInlet_clear(LayerInlet *self) {
    Py_CLEAR(self->counters);
    Py_CLEAR(self->tracks);
    Py_CLEAR(self->on_level);
    Py_CLEAR(self->on_error);
    return 0;
}

static void LayerInlet_dealloc(LayerInlet *self) {
    PyObject_GC_UnTrack(self);
    LayerInlet_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int LayerInlet_init(LayerInlet *self, PyObject *args, PyObject *kwargs) {
    PyObject *counters, *tracks;
    int layer;
    if (!PyArg_ParseTuple(args, "O!O!i", &CountersType, &counters, &PyList_Type, &tracks, &layer))
        return -1;
    Py_XSETREF(self->counters, (Counters *)Py_NewRef(counters));
    Py_XSETREF(self->tracks, Py_NewRef(tracks));
    self->layer = layer;
    self->level_threshold = -1;
    return 0;
}

static void report_error(PyObject *on_error) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL)
        PyException_SetTraceback(value, traceback);
    if (on_error != NULL && on_error != Py_None && value != NULL) {
        PyObject *result = PyObject_CallOneArg(on_error, value);
        if (result == NULL)
            PyErr_WriteUnraisable(on_error);
        Py_XDECREF(result);
    } else if (value != NULL) {
        PyErr_Restore(type, value, traceback);
        PyErr_WriteUnraisable(NULL);
        return;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
}

/* One packet of this layer: statistics, audio level, then every consumer. The bytes
 * are in data; plain is the same bytes as an object, or NULL until a decision needs it. */
static void inlet_deliver(LayerInlet *self, PyObject *plain, const unsigned char *data,
                           Py_ssize_t size, const RtpHeader *h, long long arrival_ms) {
    Counters *counters = self->counters;
    counters->packets_in++;
    counters->bytes_in += (unsigned long long)size;
    self->packets++;
    self->bytes += (unsigned long long)size;
    self->received++;
    int seq = h->sequence_number;
    int ahead = (seq - self->max_seq) & 0xFFFF;
    if (ahead > 0 && ahead < 0x8000) {
        if (seq < self->max_seq)
            self->cycles += 0x10000;
        self->max_seq = seq;
    }
    int level = -1;
    PyObject *level_bytes = NULL; /* made only for a decision */
    PyObject *view = NULL;
    double now = -1.0;
    if (self->audio_level_id) {
        Py_ssize_t length = 0;
        const unsigned char *value = find_extension(data, h, self->audio_level_id, &length);
        if (value != NULL && length > 0)
            level = value[0];
    }
    Py_INCREF(self);
    Py_XINCREF(plain);
    if (level >= 0 && self->on_level != NULL && self->on_level != Py_None &&
        (level & 0x7F) <= self->level_threshold) {
        if (plain == NULL) {
            plain = PyBytes_FromStringAndSize((const char *)data, size);
            if (plain == NULL) {
                PyErr_Clear();
                goto done;
            }
        }
        data = (const unsigned char *)PyBytes_AS_STRING(plain); /* rx_buffer may be reused */
        PyObject *result = PyObject_CallFunction(self->on_level, "i", level & 0x7F);
        if (result == NULL)
            report_error(self->on_error);
        Py_XDECREF(result);
    }
    for (Py_ssize_t i = 0; self->tracks != NULL && i < PyList_GET_SIZE(self->tracks); i++) {
        Track *track = (Track *)PyList_GET_ITEM(self->tracks, i);
        if (Py_TYPE(track) != &TrackType)
            continue;
        int layer = self->layer;
        if (track->configured && !track->paused && !track->needs_rebase && !track->holding &&
            track->current_layer == layer) {
            if (now < 0)
                now = monotonic_s();
            Py_INCREF(track); /* a test impairment runs Python while it sends */
            if (track_emit(track, data, size, h, level, now) < 0)
                report_error(self->on_error);
            Py_DECREF(track);
            continue;
        }
        if (track->paused || (layer != track->current_layer && layer != track->target_layer))
            continue; /* what the consumer's own logic would ignore */
        if (track->forward == NULL || track->forward == Py_None)
            continue;
        /* a decision: the consumer's Python logic sees this packet */
        if (plain == NULL) {
            plain = PyBytes_FromStringAndSize((const char *)data, size);
            if (plain == NULL) {
                PyErr_Clear();
                break;
            }
        }
        data = (const unsigned char *)PyBytes_AS_STRING(plain);
        if (view == NULL) {
            if (arrival_ms == ARRIVAL_NOW) /* read only when a decision needs it */
                arrival_ms = (long long)(monotonic_s() * 1000.0);
            view = PyObject_CallFunction(view_factory, "OL", plain, arrival_ms);
            if (view == NULL) {
                report_error(self->on_error);
                break;
            }
        }
        if (level >= 0 && level_bytes == NULL) {
            unsigned char byte = (unsigned char)level;
            level_bytes = PyBytes_FromStringAndSize((const char *)&byte, 1);
        }
        Py_INCREF(track);
        PyObject *result = PyObject_CallFunction(track->forward, "OiO", view, layer,
                                                 level_bytes ? level_bytes : Py_None);
        if (result == NULL)
            report_error(self->on_error);
        Py_XDECREF(result);
        Py_DECREF(track);
    }
done:
    Py_XDECREF(view);
    Py_XDECREF(level_bytes);
    Py_XDECREF(plain);
    Py_DECREF(self);
}

static PyObject *LayerInlet_deliver(LayerInlet *self, PyObject *args) {
    PyObject *plain;
    long long arrival_ms;
    if (!PyArg_ParseTuple(args, "O!L", &PyBytes_Type, &plain, &arrival_ms))
        return NULL;
    RtpHeader h;
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(plain);
    if (!parse_rtp(data, PyBytes_GET_SIZE(plain), &h)) {
        PyErr_SetString(PyExc_ValueError, "not a well-formed RTP packet");
        return NULL;
    }
    inlet_deliver(self, plain, data, PyBytes_GET_SIZE(plain), &h, arrival_ms);
    Py_RETURN_NONE;
}

static PyObject *LayerInlet_restart(LayerInlet *self, PyObject *arg) {
    long seq = PyLong_AsLong(arg);
    if (seq == -1 && PyErr_Occurred())
        return NULL;
    self->max_seq = (int)(seq & 0xFFFF);
    self->cycles = 0;
    self->received = 0;
    Py_RETURN_NONE;
}

static PyMethodDef LayerInlet_methods[] = {
    {"deliver", (PyCFunction)LayerInlet_deliver, METH_VARARGS,
     "deliver(plain_rtp: bytes, arrival_ms): count it and hand it to every track."},
    {"restart", (PyCFunction)LayerInlet_restart, METH_O,
     "restart(first_seq): a new SSRC carries the layer; receive statistics start over."},
    {NULL}};

static PyMemberDef LayerInlet_members[] = {
    {"tracks", T_OBJECT, offsetof(LayerInlet, tracks), READONLY, NULL},
    {"on_level", T_OBJECT, offsetof(LayerInlet, on_level), 0, NULL},
    {"on_error", T_OBJECT, offsetof(LayerInlet, on_error), 0, NULL},
    {"layer", T_INT, offsetof(LayerInlet, layer), READONLY, NULL},
    {"audio_level_id", T_INT, offsetof(LayerInlet, audio_level_id), 0, NULL},
    {"level_threshold", T_INT, offsetof(LayerInlet, level_threshold), 0, NULL},
    {"packets", T_ULONGLONG, offsetof(LayerInlet, packets), READONLY, NULL},
    {"bytes", T_ULONGLONG, offsetof(LayerInlet, bytes), READONLY, NULL},
    {"received", T_ULONGLONG, offsetof(LayerInlet, received), READONLY, NULL},
    {"max_seq", T_INT, offsetof(LayerInlet, max_seq), READONLY, NULL},
    {"cycles", T_LONGLONG, offsetof(LayerInlet, cycles), READONLY, NULL},
    {NULL}};

static PyTypeObject LayerInletType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.LayerInlet",
    .tp_doc = "Where one producer layer's packets enter the fast path: "
              "LayerInlet(counters, tracks, layer).",
    .tp_basicsize = sizeof(LayerInlet),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LayerInlet_init,
    .tp_dealloc = (destructor)LayerInlet_dealloc,
    .tp_traverse = (traverseproc)LayerInlet_traverse,
    .tp_clear = (inquiry)LayerInlet_clear,
    .tp_methods = LayerInlet_methods,
    .tp_members = LayerInlet_members,
};

/* --------------------------------------------------------------- LayerInletMap --- */
/*
 * SSRC → LayerInlet for one connection, shared by the Ingress of each of its sockets. A
 * connection has a handful of SSRCs (audio, up to three simulcast layers a video, a
 * screen share): a compact array of (ssrc, LayerInlet) pairs, scanned in order, finds one
 * without making an int object, hashing it or calling Python. Entries keep the order
 * they were added in (a replaced value keeps its place), as a dict would.
 */

typedef struct {
    uint32_t ssrc;
    LayerInlet *inlet; /* a strong reference */
} LayerInletEntry;

typedef struct {
    PyObject_HEAD
    LayerInletEntry *entries;
    Py_ssize_t count, capacity;
} LayerInletMap;

static Py_ssize_t inlet_map_index(const LayerInletMap *self, uint32_t ssrc) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        if (self->entries[i].ssrc == ssrc)
            return i;
    return -1;
}

static LayerInlet *inlet_map_find(const LayerInletMap *self, uint32_t ssrc) {
    Py_ssize_t index = inlet_map_index(self, ssrc);
    return index >= 0 ? self->entries[index].inlet : NULL;
}

/* The SSRC a key names: 1 with *ssrc set, 0 for an int no SSRC can be (outside
 * 0..2**32-1), -1 with TypeError set for anything but an int. */
static int ssrc_from_key(PyObject *key, uint32_t *ssrc) {
    if (!PyLong_Check(key)) {
        PyErr_Format(PyExc_TypeError, "an SSRC is an int, not %.200s", Py_TYPE(key)->tp_name);
        return -1;
    }
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(key, &overflow);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow || value < 0 || value > 0xFFFFFFFFLL)
        return 0;
    *ssrc = (uint32_t)value;
    return 1;
}

/* Take the entry at index out, the map consistent again; the caller owns the LayerInlet. */
static LayerInlet *inlet_map_take(LayerInletMap *self, Py_ssize_t index) {
    LayerInlet *inlet = self->entries[index].inlet;
    self->count--;
    memmove(&self->entries[index], &self->entries[index + 1],
            (size_t)(self->count - index) * sizeof(LayerInletEntry));
    return inlet;
}

static int inlet_map_set(LayerInletMap *self, uint32_t ssrc, PyObject *value) {
    Py_ssize_t index = inlet_map_index(self, ssrc);
    if (index >= 0) {
        LayerInlet *old = self->entries[index].inlet;
        self->entries[index].inlet = (LayerInlet *)Py_NewRef(value);
        Py_DECREF(old); /* last: its deallocation may run Python code */
        return 0;
    }
    if (self->count == self->capacity) {
        Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 4;
        LayerInletEntry *entries =
            PyMem_Realloc(self->entries, (size_t)capacity * sizeof(LayerInletEntry));
        if (entries == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->entries = entries;
        self->capacity = capacity;
    }
    self->entries[self->count].ssrc = ssrc;
    self->entries[self->count].inlet = (LayerInlet *)Py_NewRef(value);
    self->count++;
    return 0;
}

static int LayerInletMap_traverse(LayerInletMap *self, visitproc visit, void *arg) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        Py_VISIT(self->entries[i].inlet);
    return 0;
}

static int LayerInletMap_clear(LayerInletMap *self) {
    /* empty first: a LayerInlet's deallocation may run Python code that uses this map */
    LayerInletEntry *entries = self->entries;
    Py_ssize_t count = self->count;
    self->entries = NULL;
    self->count = self->capacity = 0;
    for (Py_ssize_t i = 0; i < count; i++)
        Py_DECREF(entries[i].inlet);
    PyMem_Free(entries);
    return 0;
}

static void LayerInletMap_dealloc(LayerInletMap *self) {
    PyObject_GC_UnTrack(self);
    LayerInletMap_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int LayerInletMap_init(LayerInletMap *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {NULL};
    return PyArg_ParseTupleAndKeywords(args, kwargs, ":LayerInletMap", keywords) ? 0 : -1;
}

static Py_ssize_t LayerInletMap_length(LayerInletMap *self) {
    return self->count;
}

static PyObject *LayerInletMap_subscript(LayerInletMap *self, PyObject *key) {
    uint32_t ssrc;
    int valid = ssrc_from_key(key, &ssrc);
    if (valid < 0)
        return NULL;
    LayerInlet *inlet = valid ? inlet_map_find(self, ssrc) : NULL;
    if (inlet == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return Py_NewRef(inlet);
}

static int LayerInletMap_ass_subscript(LayerInletMap *self, PyObject *key, PyObject *value) {
    uint32_t ssrc;
    int valid = ssrc_from_key(key, &ssrc);
    if (valid < 0)
        return -1;
    if (value == NULL) { /* del m[ssrc] */
        Py_ssize_t index = valid ? inlet_map_index(self, ssrc) : -1;
        if (index < 0) {
            PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        Py_DECREF(inlet_map_take(self, index));
        return 0;
    }
    if (!valid) {
        PyErr_Format(PyExc_OverflowError, "an SSRC is within 0..2**32-1, not %R", key);
        return -1;
    }
    if (!PyObject_TypeCheck(value, &LayerInletType)) {
        PyErr_Format(PyExc_TypeError, "a LayerInletMap maps to LayerInlet, not %.200s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    return inlet_map_set(self, ssrc, value);
}

static int LayerInletMap_contains(LayerInletMap *self, PyObject *key) {
    uint32_t ssrc;
    int valid = ssrc_from_key(key, &ssrc);
    if (valid <= 0)
        return valid;
    return inlet_map_find(self, ssrc) != NULL;
}

/* get and pop take (ssrc[, default]) positionally, as a dict's do */
static int key_and_default(const char *name, Py_ssize_t nargs) {
    if (nargs == 1 || nargs == 2)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s expected 1 or 2 arguments, got %zd", name, nargs);
    return -1;
}

static PyObject *LayerInletMap_get(LayerInletMap *self, PyObject *const *args, Py_ssize_t nargs) {
    if (key_and_default("get", nargs) < 0)
        return NULL;
    PyObject *key = args[0], *fallback = nargs == 2 ? args[1] : Py_None;
    uint32_t ssrc;
    int valid = ssrc_from_key(key, &ssrc);
    if (valid < 0)
        return NULL;
    LayerInlet *inlet = valid ? inlet_map_find(self, ssrc) : NULL;
    return Py_NewRef(inlet ? (PyObject *)inlet : fallback);
}

static PyObject *LayerInletMap_pop(LayerInletMap *self, PyObject *const *args, Py_ssize_t nargs) {
    if (key_and_default("pop", nargs) < 0)
        return NULL;
    PyObject *key = args[0], *fallback = nargs == 2 ? args[1] : NULL;
    uint32_t ssrc;
    int valid = ssrc_from_key(key, &ssrc);
    if (valid < 0)
        return NULL;
    Py_ssize_t index = valid ? inlet_map_index(self, ssrc) : -1;
    if (index >= 0)
        return (PyObject *)inlet_map_take(self, index); /* the map's reference, handed on */
    if (fallback == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return Py_NewRef(fallback);
}

static PyObject *LayerInletMap_clear_method(LayerInletMap *self, PyObject *unused) {
    LayerInletMap_clear(self);
    Py_RETURN_NONE;
}

/* A list of the keys (0), the values (1) or (key, value) pairs (2), in order. */
static PyObject *inlet_map_list(LayerInletMap *self, int what) {
    PyObject *list = PyList_New(self->count);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->count; i++) { /* nothing here runs Python code */
        PyObject *item, *ssrc = NULL;
        if (what != 1 && (ssrc = PyLong_FromUnsignedLong(self->entries[i].ssrc)) == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        if (what == 0)
            item = ssrc;
        else if (what == 1)
            item = Py_NewRef(self->entries[i].inlet);
        else
            item = PyTuple_Pack(2, ssrc, (PyObject *)self->entries[i].inlet);
        if (what == 2)
            Py_DECREF(ssrc);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *LayerInletMap_keys(LayerInletMap *self, PyObject *unused) {
    return inlet_map_list(self, 0);
}
static PyObject *LayerInletMap_values(LayerInletMap *self, PyObject *unused) {
    return inlet_map_list(self, 1);
}
static PyObject *LayerInletMap_items(LayerInletMap *self, PyObject *unused) {
    return inlet_map_list(self, 2);
}

static PyObject *LayerInletMap_iter(LayerInletMap *self) {
    PyObject *keys = inlet_map_list(self, 0); /* a snapshot: the map may change meanwhile */
    if (keys == NULL)
        return NULL;
    PyObject *iterator = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return iterator;
}

static PyObject *LayerInletMap_repr(LayerInletMap *self) {
    PyObject *parts = PyList_New(0), *result = NULL;
    if (parts == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->count; i++) {
        LayerInlet *inlet = self->entries[i].inlet;
        char ssrc[16];
        snprintf(ssrc, sizeof(ssrc), "0x%08lx", (unsigned long)self->entries[i].ssrc);
        PyObject *part = PyUnicode_FromFormat("%s: <LayerInlet layer %d, %llu packets at %p>",
                                              ssrc, inlet->layer, inlet->packets, (void *)inlet);
        if (part == NULL || PyList_Append(parts, part) < 0) {
            Py_XDECREF(part);
            goto done;
        }
        Py_DECREF(part);
    }
    PyObject *separator = PyUnicode_FromString(", ");
    PyObject *joined = separator ? PyUnicode_Join(separator, parts) : NULL;
    Py_XDECREF(separator);
    if (joined != NULL)
        result = PyUnicode_FromFormat("LayerInletMap({%U})", joined);
    Py_XDECREF(joined);
done:
    Py_DECREF(parts);
    return result;
}

static PyMappingMethods LayerInletMap_mapping = {
    .mp_length = (lenfunc)LayerInletMap_length,
    .mp_subscript = (binaryfunc)LayerInletMap_subscript,
    .mp_ass_subscript = (objobjargproc)LayerInletMap_ass_subscript,
};

static PySequenceMethods LayerInletMap_sequence = {
    .sq_contains = (objobjproc)LayerInletMap_contains,
};

static PyMethodDef LayerInletMap_methods[] = {
    {"get", (PyCFunction)(void (*)(void))LayerInletMap_get, METH_FASTCALL,
     "get(ssrc, default=None): its LayerInlet, or default."},
    {"pop", (PyCFunction)(void (*)(void))LayerInletMap_pop, METH_FASTCALL,
     "pop(ssrc[, default]): remove and return its LayerInlet (KeyError, or default, if none)."},
    {"clear", (PyCFunction)LayerInletMap_clear_method, METH_NOARGS, "Remove every entry."},
    {"keys", (PyCFunction)LayerInletMap_keys, METH_NOARGS, "The SSRCs, as a list."},
    {"values", (PyCFunction)LayerInletMap_values, METH_NOARGS, "The LayerInlets, as a list."},
    {"items", (PyCFunction)LayerInletMap_items, METH_NOARGS,
     "(ssrc, LayerInlet) pairs, as a list."},
    {NULL}};

static PyTypeObject LayerInletMapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.LayerInletMap",
    .tp_doc = "SSRC → LayerInlet of one connection, read by its Ingress without calling Python: "
              "LayerInletMap(), then m[ssrc] = inlet.",
    .tp_basicsize = sizeof(LayerInletMap),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LayerInletMap_init,
    .tp_dealloc = (destructor)LayerInletMap_dealloc,
    .tp_traverse = (traverseproc)LayerInletMap_traverse,
    .tp_clear = (inquiry)LayerInletMap_clear,
    .tp_repr = (reprfunc)LayerInletMap_repr,
    .tp_as_mapping = &LayerInletMap_mapping,
    .tp_as_sequence = &LayerInletMap_sequence,
    .tp_iter = (getiterfunc)LayerInletMap_iter,
    .tp_methods = LayerInletMap_methods,
};

/* --------------------------------------------------------------------- Ingress --- */

#define ARRIVALS 2048 /* about 4 s of a 3-layer simulcast publisher, taken every 50-100 ms */

static long long monotonic_us(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
}

typedef struct {
    PyObject_HEAD
    Srtp *rx;
    LayerInletMap *inlets; /* SSRC → LayerInlet, shared by the sockets of one connection */
    PyObject *slow;     /* slow(plain: bytes): RTP whose SSRC has no LayerInlet */
    PyObject *rtcp;     /* rtcp(plain: bytes): unprotected RTCP */
    PyObject *other;    /* other(data, addr): STUN, DTLS, anything else */
    PyObject *on_error;
    unsigned long long srtp_errors, malformed, fast_packets;
    /* transport-wide congestion control: the arrival of every packet carrying the
     * transport-wide sequence number (extension id transport_cc_id, 0: off), kept until
     * Python takes them to build feedback (sfu/transport_feedback.py) */
    int transport_cc_id;
    int arrival_count;
    unsigned long long arrivals_dropped; /* the buffer was full: not taken in time */
    uint16_t arrival_seq[ARRIVALS];
    long long arrival_us[ARRIVALS];
} Ingress;

static int Ingress_traverse(Ingress *self, visitproc visit, void *arg) {
    Py_VISIT(self->rx);
    Py_VISIT(self->inlets);
    Py_VISIT(self->slow);
    Py_VISIT(self->rtcp);
    Py_VISIT(self->other);
    Py_VISIT(self->on_error);
    return 0;
}

static int Ingress_clear(Ingress *self) {
    Py_CLEAR(self->rx);
    Py_CLEAR(self->inlets);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->rtcp);
    Py_CLEAR(self->other);
    Py_CLEAR(self->on_error);
    return 0;
}

static void Ingress_dealloc(Ingress *self) {
    PyObject_GC_UnTrack(self);
    Ingress_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Ingress_init(Ingress *self, PyObject *args, PyObject *kwargs) {
    PyObject *inlets = NULL; /* shared by the sockets of one connection */
    if (!PyArg_ParseTuple(args, "|O!", &LayerInletMapType, &inlets))
        return -1;
    if (inlets)
        Py_INCREF(inlets);
    else
        inlets = PyObject_CallNoArgs((PyObject *)&LayerInletMapType);
    Py_XSETREF(self->inlets, (LayerInletMap *)inlets);
    return self->inlets ? 0 : -1;
}

static void ingress_rtp(Ingress *self, const unsigned char *datagram, Py_ssize_t size) {
    if (self->rx == NULL)
        return;
    int length = srtp_apply(self->rx, self->rx->unprotect, datagram, size, rx_buffer);
    if (length < 0) {
        self->srtp_errors++; /* replayed, forged or too long */
        return;
    }
    RtpHeader h;
    if (!parse_rtp(rx_buffer, length, &h)) {
        self->malformed++;
        return;
    }
    if (self->transport_cc_id > 0) {
        Py_ssize_t ext_length = 0;
        const unsigned char *ext = find_extension(rx_buffer, &h, self->transport_cc_id,
                                                  &ext_length);
        if (ext != NULL && ext_length == 2) {
            if (self->arrival_count < ARRIVALS) {
                self->arrival_seq[self->arrival_count] = (uint16_t)((ext[0] << 8) | ext[1]);
                self->arrival_us[self->arrival_count] = monotonic_us();
                self->arrival_count++;
            } else {
                self->arrivals_dropped++;
            }
        }
    }
    LayerInlet *inlet = self->inlets ? inlet_map_find(self->inlets, h.ssrc) : NULL;
    if (inlet != NULL) {
        self->fast_packets++;
        inlet_deliver(inlet, NULL, rx_buffer, length, &h, ARRIVAL_NOW);
        return;
    }
    if (self->slow == NULL || self->slow == Py_None)
        return;
    PyObject *plain = PyBytes_FromStringAndSize((const char *)rx_buffer, length);
    if (plain == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *result = PyObject_CallOneArg(self->slow, plain);
    if (result == NULL)
        report_error(self->on_error);
    Py_XDECREF(result);
    Py_DECREF(plain);
}

static void ingress_rtcp(Ingress *self, const unsigned char *datagram, Py_ssize_t size) {
    if (self->rx == NULL || self->rtcp == NULL || self->rtcp == Py_None)
        return;
    int length = srtp_apply(self->rx, self->rx->unprotect_rtcp, datagram, size, rx_buffer);
    if (length < 0) {
        self->srtp_errors++;
        return;
    }
    PyObject *plain = PyBytes_FromStringAndSize((const char *)rx_buffer, length);
    if (plain == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *result = PyObject_CallOneArg(self->rtcp, plain);
    if (result == NULL)
        report_error(self->on_error);
    Py_XDECREF(result);
    Py_DECREF(plain);
}

static PyObject *make_address(const struct sockaddr_storage *from) {
    char host[INET6_ADDRSTRLEN];
    if (from->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)from;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(si)", host, ntohs(v4->sin_port));
    }
    if (from->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)from;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(siII)", host, ntohs(v6->sin6_port), ntohl(v6->sin6_flowinfo),
                             v6->sin6_scope_id);
    }
    Py_RETURN_NONE;
}

/* One datagram: RTP and RTCP handled here, anything else to other(data, addr). The
 * objects data and addr are made only when needed (NULL: build them from the bytes and
 * from). Returns a new reference, or NULL with an exception set. */
static PyObject *ingress_dispatch(Ingress *self, const unsigned char *bytes, Py_ssize_t size,
                                  PyObject *data, PyObject *addr,
                                  const struct sockaddr_storage *from) {
    /* RTP, not RTCP (RFC 7983 and 5761): 128..191 then a type outside 192..208 */
    if (size > 12 && bytes[0] > 127 && bytes[0] < 192 && !(bytes[1] > 191 && bytes[1] < 209)) {
        Py_INCREF(self);
        ingress_rtp(self, bytes, size);
        Py_DECREF(self);
        Py_RETURN_NONE;
    }
    if (size >= 8 && bytes[0] > 127 && bytes[0] < 192 && self->rtcp != NULL &&
        self->rtcp != Py_None) {
        Py_INCREF(self);
        ingress_rtcp(self, bytes, size);
        Py_DECREF(self);
        Py_RETURN_NONE;
    }
    if (self->other == NULL || self->other == Py_None)
        Py_RETURN_NONE;
    PyObject *made_data = NULL, *made_addr = NULL, *result = NULL;
    if (data == NULL)
        data = made_data = PyBytes_FromStringAndSize((const char *)bytes, size);
    if (data != NULL && addr == NULL)
        addr = made_addr = make_address(from);
    if (data != NULL && addr != NULL) {
        PyObject *other = Py_NewRef(self->other);
        result = PyObject_CallFunctionObjArgs(other, data, addr, NULL);
        Py_DECREF(other);
    }
    Py_XDECREF(made_data);
    Py_XDECREF(made_addr);
    return result;
}

/* The socket's datagram_received(data, addr). */
static PyObject *Ingress_call(Ingress *self, PyObject *args, PyObject *kwargs) {
    PyObject *data, *addr;
    if (!PyArg_UnpackTuple(args, "datagram_received", 2, 2, &data, &addr))
        return NULL;
    if (PyBytes_Check(data))
        return ingress_dispatch(self, (const unsigned char *)PyBytes_AS_STRING(data),
                                PyBytes_GET_SIZE(data), data, addr, NULL);
    if (self->other == NULL || self->other == Py_None)
        Py_RETURN_NONE;
    return PyObject_CallFunctionObjArgs(self->other, data, addr, NULL);
}

static PyObject *Ingress_attach(Ingress *self, PyObject *args) {
    PyObject *rx, *slow, *rtcp, *other;
    if (!PyArg_ParseTuple(args, "O!OOO", &SrtpType, &rx, &slow, &rtcp, &other))
        return NULL;
    Py_XSETREF(self->rx, (Srtp *)Py_NewRef(rx));
    Py_XSETREF(self->slow, Py_NewRef(slow));
    Py_XSETREF(self->rtcp, Py_NewRef(rtcp));
    Py_XSETREF(self->other, Py_NewRef(other));
    Py_RETURN_NONE;
}

static PyObject *Ingress_close(Ingress *self, PyObject *unused) {
    Py_CLEAR(self->rx);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->rtcp);
    Py_CLEAR(self->other);
    if (self->inlets)
        LayerInletMap_clear(self->inlets);
    Py_RETURN_NONE;
}

/* The arrivals recorded since the previous call, oldest first: [(sequence, µs)]. */
static PyObject *Ingress_take_arrivals(Ingress *self, PyObject *unused) {
    PyObject *list = PyList_New(self->arrival_count);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < self->arrival_count; i++) {
        PyObject *item = Py_BuildValue("(iL)", (int)self->arrival_seq[i], self->arrival_us[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    self->arrival_count = 0;
    return list;
}

static PyMethodDef Ingress_methods[] = {
    {"take_arrivals", (PyCFunction)Ingress_take_arrivals, METH_NOARGS,
     "[(transport-wide sequence, arrival µs on the monotonic clock)] since the last call."},
    {"attach", (PyCFunction)Ingress_attach, METH_VARARGS,
     "attach(rx: Srtp, slow(plain), rtcp(plain), other(data, addr)): DTLS is up."},
    {"close", (PyCFunction)Ingress_close, METH_NOARGS, "The connection is gone."},
    {NULL}};

static PyMemberDef Ingress_members[] = {
    {"inlets", T_OBJECT, offsetof(Ingress, inlets), READONLY, "LayerInletMap: SSRC → LayerInlet"},
    {"on_error", T_OBJECT, offsetof(Ingress, on_error), 0, NULL},
    {"rx", T_OBJECT, offsetof(Ingress, rx), READONLY, "Srtp, once attached"},
    {"srtp_errors", T_ULONGLONG, offsetof(Ingress, srtp_errors), READONLY, NULL},
    {"malformed", T_ULONGLONG, offsetof(Ingress, malformed), READONLY, NULL},
    {"fast_packets", T_ULONGLONG, offsetof(Ingress, fast_packets), READONLY, NULL},
    {"transport_cc_id", T_INT, offsetof(Ingress, transport_cc_id), 0,
     "the transport-wide sequence number's extension id; 0: not recorded"},
    {"arrivals_dropped", T_ULONGLONG, offsetof(Ingress, arrivals_dropped), READONLY, NULL},
    {NULL}};

static PyTypeObject IngressType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Ingress",
    .tp_doc = "One socket's datagram_received: RTP to its LayerInlet, the rest on. "
              "Ingress(inlets: LayerInletMap = LayerInletMap()).",
    .tp_basicsize = sizeof(Ingress),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Ingress_init,
    .tp_dealloc = (destructor)Ingress_dealloc,
    .tp_traverse = (traverseproc)Ingress_traverse,
    .tp_clear = (inquiry)Ingress_clear,
    .tp_call = (ternaryfunc)Ingress_call,
    .tp_methods = Ingress_methods,
    .tp_members = Ingress_members,
};

/* ---------------------------------------------------------------------- Reader --- */
/*
 * A host candidate's socket, drained by recvmmsg when the event loop says it is
 * readable: one system call for every datagram waiting (uvloop makes one per datagram,
 * plus one more that finds the socket empty, and builds a bytes object and an address
 * tuple for each). Each datagram goes to protocol.datagram_received, looked up every
 * time as the event loop does; when that is an Ingress, RTP and RTCP never become
 * Python objects.
 */
#define RECV_BATCH 32
#define RECV_SLOT 4096
#define RECV_ROUNDS 4 /* then let the other sockets have their turn */

static unsigned char recv_data[RECV_BATCH][RECV_SLOT];
static struct sockaddr_storage recv_address[RECV_BATCH];
static PyObject *datagram_received_name = NULL;

typedef struct {
    PyObject_HEAD
    int fd;
    PyObject *protocol;
    PyObject *ingress; /* set by its owner with protocol.datagram_received: no lookup */
    unsigned long long datagrams, wakeups, truncated;
} Reader;

static int Reader_traverse(Reader *self, visitproc visit, void *arg) {
    Py_VISIT(self->protocol);
    Py_VISIT(self->ingress);
    return 0;
}

static int Reader_clear(Reader *self) {
    Py_CLEAR(self->protocol);
    Py_CLEAR(self->ingress);
    return 0;
}

static void Reader_dealloc(Reader *self) {
    PyObject_GC_UnTrack(self);
    Reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs) {
    int fd;
    PyObject *protocol;
    if (!PyArg_ParseTuple(args, "iO", &fd, &protocol))
        return -1;
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "not a file descriptor");
        return -1;
    }
    self->fd = fd;
    Py_XSETREF(self->protocol, Py_NewRef(protocol));
    return 0;
}

static PyObject *Reader_call(Reader *self, PyObject *args, PyObject *kwargs) {
    if (self->protocol == NULL || self->fd < 0)
        Py_RETURN_NONE;
    Py_INCREF(self);
    PyObject *protocol = Py_NewRef(self->protocol);
    self->wakeups++;
    reading++;
    struct mmsghdr messages[RECV_BATCH];
    struct iovec vectors[RECV_BATCH];
    for (int round = 0; round < RECV_ROUNDS && self->fd >= 0; round++) {
        for (int i = 0; i < RECV_BATCH; i++) {
            vectors[i].iov_base = recv_data[i];
            vectors[i].iov_len = RECV_SLOT;
            memset(&messages[i], 0, sizeof(messages[i]));
            messages[i].msg_hdr.msg_name = &recv_address[i];
            messages[i].msg_hdr.msg_namelen = sizeof(recv_address[i]);
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        int count = recvmmsg(self->fd, messages, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (count <= 0)
            break; /* empty (EAGAIN), or an error a UDP socket may report: read next time */
        for (int i = 0; i < count; i++) {
            if (messages[i].msg_hdr.msg_flags & MSG_TRUNC) {
                self->truncated++; /* bigger than any WebRTC datagram: not ours */
                continue;
            }
            self->datagrams++;
            PyObject *result = NULL, *handler = self->ingress;
            if (handler != NULL && Py_TYPE(handler) == &IngressType) {
                /* the connection's own ingress, as its owner set both: no attribute
                 * lookup (an instance dict walk) for every datagram */
                Py_INCREF(handler); /* Python it calls may replace it */
                result = ingress_dispatch((Ingress *)handler, recv_data[i],
                                          (Py_ssize_t)messages[i].msg_len, NULL, NULL,
                                          &recv_address[i]);
                if (result == NULL)
                    report_error(NULL);
                Py_XDECREF(result);
                Py_DECREF(handler);
                continue;
            }
            handler = PyObject_GetAttr(protocol, datagram_received_name);
            if (handler == NULL) {
                report_error(NULL);
                continue;
            }
            if (Py_TYPE(handler) == &IngressType) {
                result = ingress_dispatch((Ingress *)handler, recv_data[i],
                                          (Py_ssize_t)messages[i].msg_len, NULL, NULL,
                                          &recv_address[i]);
            } else {
                PyObject *data =
                    PyBytes_FromStringAndSize((const char *)recv_data[i], messages[i].msg_len);
                PyObject *addr = data ? make_address(&recv_address[i]) : NULL;
                if (data && addr)
                    result = PyObject_CallFunctionObjArgs(handler, data, addr, NULL);
                Py_XDECREF(data);
                Py_XDECREF(addr);
            }
            if (result == NULL)
                report_error(NULL); /* a protocol's bug must not stop the socket */
            Py_XDECREF(result);
            Py_DECREF(handler);
        }
        if (count < RECV_BATCH)
            break;
    }
    /* What this socket brought leaves now, one sendmmsg per egress socket: a second
     * pass through the loop (call_soon, a handle, an idle callback) cost more than it
     * batched, since another socket's packets rarely go out on the same egress. */
    if (--reading == 0 && pending_count > 0)
        flush_pending();
    Py_DECREF(protocol);
    Py_DECREF(self);
    Py_RETURN_NONE;
}

static PyObject *Reader_close(Reader *self, PyObject *unused) {
    self->fd = -1;
    Py_CLEAR(self->protocol);
    Py_CLEAR(self->ingress);
    Py_RETURN_NONE;
}

static PyMethodDef Reader_methods[] = {
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Read nothing more."},
    {NULL}};

static PyMemberDef Reader_members[] = {
    {"datagrams", T_ULONGLONG, offsetof(Reader, datagrams), READONLY, NULL},
    {"wakeups", T_ULONGLONG, offsetof(Reader, wakeups), READONLY, NULL},
    {"truncated", T_ULONGLONG, offsetof(Reader, truncated), READONLY, NULL},
    {"ingress", T_OBJECT, offsetof(Reader, ingress), 0,
     "the Ingress its owner made protocol.datagram_received (None: look it up)"},
    {NULL}};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._datapath.Reader",
    .tp_doc = "Reader(fd, protocol)(): every datagram waiting on fd to "
              "protocol.datagram_received; the event loop's add_reader callback.",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_call = (ternaryfunc)Reader_call,
    .tp_methods = Reader_methods,
    .tp_members = Reader_members,
};

/* ------------------------------------------------------------ test entry points --- */
/*
 * parse_rtp and find_extension as Python functions, for tests that compare them with
 * RtpView. Each works on a copy of the bytes in a heap block of exactly their size (a
 * bytes object has a spare NUL byte after its end, the receive buffers thousands): a
 * sanitizer build then reports any read past the packet.
 */

static unsigned char *exact_copy(PyObject *data, Py_ssize_t *size) {
    Py_buffer view;
    if (read_buffer(data, &view) < 0)
        return NULL;
    unsigned char *copy = PyMem_RawMalloc(view.len ? (size_t)view.len : 1);
    if (copy == NULL) {
        PyBuffer_Release(&view);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, view.buf, (size_t)view.len);
    *size = view.len;
    PyBuffer_Release(&view);
    return copy;
}

static PyObject *parse_header(PyObject *module, PyObject *data) {
    Py_ssize_t size;
    unsigned char *copy = exact_copy(data, &size);
    if (copy == NULL)
        return NULL;
    RtpHeader h;
    int parsed = parse_rtp(copy, size, &h);
    PyMem_RawFree(copy);
    if (!parsed)
        Py_RETURN_NONE;
    return Py_BuildValue("(kikiiininn)", (unsigned long)h.ssrc, (int)h.sequence_number,
                         (unsigned long)h.timestamp, h.payload_type, h.marker, h.padding,
                         h.payload_offset, h.extension_profile, h.extension_start,
                         h.extension_end);
}

static PyObject *header_extension(PyObject *module, PyObject *args) {
    PyObject *data;
    int id;
    if (!PyArg_ParseTuple(args, "Oi", &data, &id))
        return NULL;
    Py_ssize_t size, length = 0;
    unsigned char *copy = exact_copy(data, &size);
    if (copy == NULL)
        return NULL;
    RtpHeader h;
    const unsigned char *value = parse_rtp(copy, size, &h) ? find_extension(copy, &h, id, &length)
                                                           : NULL;
    PyObject *result = value == NULL ? Py_NewRef(Py_None)
                                     : PyBytes_FromStringAndSize((const char *)value, length);
    PyMem_RawFree(copy);
    return result;
}

/* ---------------------------------------------------------------------- module --- */

static PyObject *set_view_factory(PyObject *module, PyObject *factory) {
    if (!PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError, "the view factory must be callable");
        return NULL;
    }
    Py_XSETREF(view_factory, Py_NewRef(factory));
    Py_RETURN_NONE;
}

static PyObject *set_flush_scheduler(PyObject *module, PyObject *scheduler) {
    if (scheduler != Py_None && !PyCallable_Check(scheduler)) {
        PyErr_SetString(PyExc_TypeError, "the flush scheduler must be callable or None");
        return NULL;
    }
    flush_pending();
    Py_XSETREF(flush_scheduler, Py_NewRef(scheduler));
    Py_RETURN_NONE;
}

static PyObject *flush(PyObject *module, PyObject *unused) {
    flush_pending();
    Py_RETURN_NONE;
}

static PyObject *send_stats(PyObject *module, PyObject *unused) {
    return Py_BuildValue("{sKsKsKsi}", "batches", batches, "batched_packets", batched_packets,
                         "batch_errors", batch_errors, "pending", pending_count);
}

static PyMethodDef module_methods[] = {
    {"set_flush_scheduler", set_flush_scheduler, METH_O,
     "set_flush_scheduler(schedule): schedule() arranges one flush() after the current "
     "callbacks (None: every packet leaves at once)."},
    {"flush", flush, METH_NOARGS, "Send every packet waiting in the batch now."},
    {"send_stats", send_stats, METH_NOARGS, "Batched sends so far: batches, packets, errors."},
    {"aead_srtp", aead_srtp, METH_O,
     "aead_srtp(master_key_and_salt): an Srtp for AEAD_AES_128_GCM (28 bytes) or "
     "AEAD_AES_256_GCM (44 bytes), RFC 7714, without libsrtp."},
    {"parse_header", parse_header, METH_O,
     "parse_header(packet): parse_rtp's reading of it as (ssrc, sequence_number, timestamp, "
     "payload_type, marker, padding, payload_offset, extension_profile, extension_start, "
     "extension_end), or None when it is not well-formed RTP (tests)."},
    {"header_extension", header_extension, METH_VARARGS,
     "header_extension(packet, id): the value find_extension finds, or None (tests)."},
    {"set_view_factory", set_view_factory, METH_O,
     "set_view_factory(parse): how a decision gets its view of a packet (RtpView.parse)."},
    {NULL}};

static struct PyModuleDef datapath_module = {
    PyModuleDef_HEAD_INIT, "sfu._datapath",
    "The forwarder's per-packet steady state in C; every decision stays in Python.", -1,
    module_methods};

PyMODINIT_FUNC PyInit__datapath(void) {
    PyTypeObject *types[] = {&SrtpType,      &CountersType, &EgressType, &TrackType,
                             &LayerInletType,    &LayerInletMapType, &IngressType, &ReaderType};
    const char *names[] = {"Srtp",   "Counters",  "Egress",  "Track",
                           "LayerInlet", "LayerInletMap", "Ingress", "Reader"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    PyObject *module = PyModule_Create(&datapath_module);
    if (module == NULL)
        return NULL;
    component_one = PyLong_FromLong(1);
    datagram_received_name = PyUnicode_InternFromString("datagram_received");
    if (component_one == NULL || datagram_received_name == NULL) {
        Py_DECREF(module);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (PyModule_AddObjectRef(module, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    PyModule_AddIntConstant(module, "MAX_PACKET", MAX_PACKET);
    return module;
}
