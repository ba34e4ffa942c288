/*
 * The floor under any user-space forwarder on this host: a bare UDP relay in C.
 *
 * STREAMS senders send RATE datagrams a second each, of SIZE bytes, at random phases, to
 * one relay socket each on 127.0.0.1. The relay process waits in epoll, drains every
 * ready socket with recvmmsg and forwards what it read with sendmmsg from a socket of its
 * own per stream to a paired destination socket, drained by a third process: an SFU's
 * wake-ups, system calls and loopback delivery, without SRTP, RTCP, a rewrite or any
 * decision. Prints one JSON object: the relay's CPU microseconds per forwarded datagram
 * (its own user + system time, measured by getrusage over SECONDS after a one-second
 * warm-up), the datagrams it forwarded and their rate.
 *
 *   udp_relay_floor STREAMS RATE SECONDS SIZE
 *
 * Loopback only; every loop is bounded by SECONDS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 1000
#define BATCH 32
#define SLOT 2048
#define WARM_UP_S 1.0

static int bound_socket(struct sockaddr_in *address) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    memset(address, 0, sizeof(*address));
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(*address);
    if (fd < 0 || bind(fd, (struct sockaddr *)address, length) < 0 ||
        getsockname(fd, (struct sockaddr *)address, &length) < 0) {
        perror("socket");
        exit(1);
    }
    return fd;
}

static double monotonic(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

static void relay(int streams, const int *in, const int *out, struct sockaddr_in *to,
                  double seconds) {
    int poller = epoll_create1(0);
    for (int i = 0; i < streams; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(poller, EPOLL_CTL_ADD, in[i], &event);
    }
    static char data[BATCH][SLOT];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    long forwarded = 0;
    double started = monotonic(), window_start = 0, cpu_start = 0;
    int measuring = 0;
    for (;;) {
        struct epoll_event ready[64];
        int count = epoll_wait(poller, ready, 64, 100);
        double now = monotonic();
        if (!measuring && now - started >= WARM_UP_S) {
            measuring = 1;
            window_start = now;
            cpu_start = cpu_seconds();
            forwarded = 0;
        }
        if (measuring && now - window_start >= seconds) {
            double cpu = cpu_seconds() - cpu_start;
            printf("{\"us_per_packet\": %.3f, \"packets\": %ld, \"packets_per_s\": %.1f}\n",
                   forwarded ? cpu / (double)forwarded * 1e6 : 0.0, forwarded,
                   (double)forwarded / (now - window_start));
            fflush(stdout);
            _exit(0);
        }
        for (int r = 0; r < count; r++) {
            int i = (int)ready[r].data.u32;
            for (int k = 0; k < BATCH; k++) {
                vectors[k].iov_base = data[k];
                vectors[k].iov_len = SLOT;
                memset(&messages[k], 0, sizeof(messages[k]));
                messages[k].msg_hdr.msg_iov = &vectors[k];
                messages[k].msg_hdr.msg_iovlen = 1;
            }
            int got = recvmmsg(in[i], messages, BATCH, MSG_DONTWAIT, NULL);
            if (got <= 0)
                continue;
            for (int k = 0; k < got; k++) {
                vectors[k].iov_len = messages[k].msg_len;
                messages[k].msg_hdr.msg_name = &to[i];
                messages[k].msg_hdr.msg_namelen = sizeof(to[i]);
            }
            int sent = sendmmsg(out[i], messages, (unsigned int)got, MSG_DONTWAIT);
            if (sent > 0)
                forwarded += sent;
        }
    }
}

static void drain(int streams, const int *sinks) {
    int poller = epoll_create1(0);
    for (int i = 0; i < streams; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(poller, EPOLL_CTL_ADD, sinks[i], &event);
    }
    char data[SLOT];
    for (;;) { /* killed by the parent */
        struct epoll_event ready[64];
        int count = epoll_wait(poller, ready, 64, 1000);
        for (int r = 0; r < count; r++)
            while (recv(sinks[ready[r].data.u32], data, sizeof(data), MSG_DONTWAIT) > 0)
                ;
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s STREAMS RATE SECONDS SIZE\n", argv[0]);
        return 2;
    }
    int streams = atoi(argv[1]), size = atoi(argv[4]);
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    if (streams < 1 || streams > MAX_STREAMS || rate <= 0 || seconds <= 0 || size < 1 ||
        size > SLOT) {
        fprintf(stderr, "STREAMS 1-%d, RATE > 0, SECONDS > 0, SIZE 1-%d\n", MAX_STREAMS, SLOT);
        return 2;
    }
    static int in[MAX_STREAMS], out[MAX_STREAMS], sinks[MAX_STREAMS];
    static struct sockaddr_in in_address[MAX_STREAMS], out_address[MAX_STREAMS],
        sink_address[MAX_STREAMS];
    for (int i = 0; i < streams; i++) {
        in[i] = bound_socket(&in_address[i]);
        out[i] = bound_socket(&out_address[i]);
        sinks[i] = bound_socket(&sink_address[i]);
    }
    fflush(stdout);
    pid_t relay_pid = fork();
    if (relay_pid == 0)
        relay(streams, in, out, sink_address, seconds);
    pid_t sink_pid = fork();
    if (sink_pid == 0)
        drain(streams, sinks);

    int sender = socket(AF_INET, SOCK_DGRAM, 0);
    static char payload[SLOT];
    memset(payload, 0x5a, sizeof(payload));
    static double due[MAX_STREAMS];
    double now = monotonic(), end = now + WARM_UP_S + seconds + 0.5;
    srand(1);
    for (int i = 0; i < streams; i++)
        due[i] = now + ((double)rand() / RAND_MAX) / rate;
    while ((now = monotonic()) < end) {
        int next = 0;
        for (int i = 1; i < streams; i++)
            if (due[i] < due[next])
                next = i;
        double wait = due[next] - now;
        if (wait > 0) {
            struct timespec pause = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&pause, NULL);
        }
        sendto(sender, payload, (size_t)size, 0, (struct sockaddr *)&in_address[next],
               sizeof(in_address[next]));
        due[next] += 1.0 / rate;
    }
    int status = 1;
    waitpid(relay_pid, &status, 0);
    kill(sink_pid, SIGKILL);
    waitpid(sink_pid, NULL, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
