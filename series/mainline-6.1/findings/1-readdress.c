// A loopback packet addressed to (VMADDR_CID_ANY, p) rewrites the local CID of the socket bound
// at p that receives it. (a) the connecting socket itself, (b) another socket bound at p.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static unsigned localcid(int s, unsigned *port) {
    struct sockaddr_vm a; socklen_t n = sizeof a;
    memset(&a, 0, sizeof a);
    if (getsockname(s, (struct sockaddr *)&a, &n) < 0) { perror("getsockname"); return 0; }
    *port = a.svm_port;
    return a.svm_cid;
}

static int stream(unsigned cid, unsigned port) {
    int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) perror("bind");
    return s;
}

static void connect_any(int s, unsigned port) {
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("  connect(cid=ANY port=%u) = %d %s\n", port, r, r < 0 ? strerror(errno) : "");
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    if (system("modprobe vsock_loopback && modprobe vmw_vsock_virtio_transport") != 0) return 2;
    unsigned port, cid;
    int rewritten = 0;

    printf("(a) the connecting socket bound at the port it connects to\n");
    int a = stream(VMADDR_CID_LOCAL, 1024);
    connect_any(a, 1024);
    usleep(200000);
    cid = localcid(a, &port);
    printf("  getsockname = cid %d port %u\n", (int)cid, port);
    rewritten += cid == VMADDR_CID_ANY;

    printf("(b) another socket bound at the port, not listening\n");
    int b = stream(VMADDR_CID_LOCAL, 2048);
    int c = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cid = localcid(b, &port);
    printf("  before: getsockname(b) = cid %d port %u\n", (int)cid, port);
    connect_any(c, 2048);
    usleep(200000);
    cid = localcid(b, &port);
    printf("  after:  getsockname(b) = cid %d port %u\n", (int)cid, port);
    rewritten += cid == VMADDR_CID_ANY;

    printf("(c) a listening socket bound at the port\n");
    int l = stream(VMADDR_CID_LOCAL, 4096);
    if (listen(l, 1) < 0) perror("listen");
    int d = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect_any(d, 4096);
    usleep(200000);
    cid = localcid(l, &port);
    printf("  after:  getsockname(listener) = cid %d port %u\n", (int)cid, port);
    rewritten += cid == VMADDR_CID_ANY;
    printf("%d of 3 sockets rewritten to VMADDR_CID_ANY\n", rewritten);
    return rewritten ? 0 : 1;
}
