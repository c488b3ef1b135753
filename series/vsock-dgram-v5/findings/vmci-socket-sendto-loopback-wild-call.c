/*
 * Finding about the v5 series, found by `checker series` (docs/vsock-dgram-v5.md, "Wild call in
 * virtio_transport_dgram_enqueue"): a datagram socket whose transport is VMCI (the fallback)
 * sends to VMADDR_CID_LOCAL; the per-packet lookup of patch 03 picks vsock_loopback, whose
 * dgram_enqueue (patch 07's virtio_transport_dgram_enqueue) finds its "virtio_transport" from the
 * socket's own transport:
 *
 *   03: transport = vsock_dgram_lookup_transport(remote_addr->svm_cid, ...);   (loopback)
 *       err = transport->dgram_enqueue(vsk, remote_addr, msg, len);
 *   07: t_ops = virtio_transport_get_ops(vsk);   container_of(vsk->transport)  (VMCI's struct)
 *       return t_ops->send_pkt(skb);            a pointer read past VMCI's vsock_transport
 *
 * Setup (scripts/finding-repro.sh): the rebuilt vsock, vmw_vsock_vmci_transport,
 * vmw_vsock_virtio_transport_common and vsock_loopback are loaded; no G2H/H2G transport, so
 * socket(SOCK_DGRAM) gets the fallback, VMCI.
 *
 * Expected (the series' intent): the datagram is sent through loopback (or sendto fails).
 * Observed on Debian 6.1.176 + v5: "BUG: kernel NULL pointer dereference, address:
 * 0000000000000058", RIP 0x58, called from virtio_transport_dgram_enqueue.
 */
#include <stdio.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

int main(void)
{
	struct sockaddr_vm peer = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = 1024 };
	char buf[16] = "ping";
	int fd = socket(AF_VSOCK, SOCK_DGRAM, 0);

	if (fd < 0) { perror("socket(AF_VSOCK, SOCK_DGRAM)"); return 2; }
	printf("sending to cid 1 port 1024 from a VMCI datagram socket\n");
	fflush(stdout);
	if (sendto(fd, buf, 4, 0, (struct sockaddr *)&peer, sizeof(peer)) < 0) { perror("sendto"); return 3; }
	printf("sent: not reproduced\n");
	return 0;
}
