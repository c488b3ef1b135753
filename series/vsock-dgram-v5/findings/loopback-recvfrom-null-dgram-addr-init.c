/*
 * Finding about the v5 series (docs/vsock-dgram-v5.md, "Kernel NULL pointer call in
 * vsock_dgram_recvmsg"): receiving a datagram with recvfrom() on a socket served by
 * vsock_loopback calls transport->dgram_addr_init, which patch 12 never sets for loopback.
 *
 *   01 (generalized vsock_dgram_recvmsg):  if (msg->msg_name) transport->dgram_addr_init(skb, vm_addr);
 *   12 (vsock_loopback datagrams):          .dgram_addr_init is not in vsock_loopback's transport.
 *
 * Setup (done by scripts/finding-repro.sh before this runs): the rebuilt vsock,
 * vmw_vsock_virtio_transport_common, vsock_loopback and vmw_vsock_virtio_transport modules are
 * loaded. Without a virtio-vsock device the G2H transport's local CID is VMADDR_CID_ANY, so a new
 * datagram socket is assigned to the local (loopback) transport.
 *
 * Expected (the series' intent): recvfrom() returns the datagram and the sender's address.
 * Observed on Debian 6.1.176 + v5: "BUG: kernel NULL pointer dereference", RIP 0x0, called from
 * vsock_dgram_recvmsg; this process is killed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

int main(void)
{
	struct sockaddr_vm local = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 4321 };
	struct sockaddr_vm peer = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = 4321 };
	struct sockaddr_vm from;
	socklen_t fromlen = sizeof(from);
	char buf[16] = "ping";
	int fd, i;
	ssize_t n = -1;

	fd = socket(AF_VSOCK, SOCK_DGRAM, 0);
	if (fd < 0) { perror("socket(AF_VSOCK, SOCK_DGRAM)"); return 2; }
	if (bind(fd, (struct sockaddr *)&local, sizeof(local))) { perror("bind"); return 2; }
	if (sendto(fd, buf, 4, 0, (struct sockaddr *)&peer, sizeof(peer)) != 4) { perror("sendto"); return 2; }
	printf("sent 4 bytes to cid 1 port 4321; receiving with recvfrom()\n");
	fflush(stdout);
	/* The loopback worker delivers asynchronously: try for up to 5 s. */
	for (i = 0; i < 50; i++) {
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n >= 0 || errno != EAGAIN)
			break;
		usleep(100000);
	}
	if (n < 0) { perror("recvfrom"); return 3; }
	printf("received %zd bytes from cid %u port %u: not reproduced\n", n, from.svm_cid, from.svm_port);
	return 0;
}
