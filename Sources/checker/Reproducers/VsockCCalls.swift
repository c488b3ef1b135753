import Model

/// The C side of vsock operations, shared by the generated programs (the reproducer of a
/// divergence, the bench's plain-C baseline): the same syscalls the live backend makes, with
/// the real structs of `<linux/vm_sockets.h>`.
enum VsockCCalls {
    /// Includes, state and helpers every program starts with. `load` is each program's own.
    static let prelude = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <fcntl.h>
        #include <linux/vm_sockets.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <sys/syscall.h>
        #include <time.h>
        #include <unistd.h>

        static int fds[4096];
        static int nfds;
        static char payload[65537] __attribute__((unused));

        static __attribute__((unused)) long delete_module_(const char *name)
        {
        \treturn syscall(SYS_delete_module, name, O_NONBLOCK);
        }

        static __attribute__((unused)) struct sockaddr_vm vm(unsigned int cid, unsigned int port, unsigned char flags)
        {
        \tstruct sockaddr_vm addr;
        \tmemset(&addr, 0, sizeof(addr));
        \taddr.svm_family = AF_VSOCK;
        \taddr.svm_cid = cid;
        \taddr.svm_port = port;
        \taddr.svm_flags = flags;
        \treturn addr;
        }

        static __attribute__((unused)) long open_socket(int type)
        {
        \tint fd = socket(AF_VSOCK, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        \tif (fd >= 0)
        \t\tfds[nfds++] = fd;
        \treturn fd;
        }

        /* The ports getsockname() and recvfrom() have shown above LAST_RESERVED_PORT, first seen first (bind-learned). */
        static unsigned int learned[4096];
        static int nlearned;

        static void learn(unsigned int port)
        {
        	int i;
        	if (port <= 1023 || port == VMADDR_PORT_ANY)
        		return;
        	for (i = 0; i < nlearned && learned[i] != port; i++)
        		;
        	if (i == nlearned && nlearned < 4096)
        		learned[nlearned++] = port;
        }

        static __attribute__((unused)) long getsockname_learn(int position, struct sockaddr_vm *addr, socklen_t *len)
        {
        	long ret = getsockname(fds[position], (struct sockaddr *)addr, len);
        	if (ret == 0)
        		learn(addr->svm_port);
        	return ret;
        }

        /* Every datagram carries its operation's number (its tag) in its first four bytes,
         * little-endian, then bytes that follow from it, as the checker sends them. */
        static __attribute__((unused)) void fill(unsigned int tag, size_t length)
        {
        	for (size_t i = 0; i < length; i++)
        		payload[i] = i < 4 ? (char)(tag >> (8 * i)) : (char)(tag + i);
        }

        /* Loopback delivers from a worker: a receive waits until 100 ms have passed since the
         * last datagram a send accepted, as the checker does, before it trusts an empty queue. */
        static struct timespec sent_at;
        static int sent_pending;

        static __attribute__((unused)) long sent(long ret)
        {
        	if (ret >= 0) {
        		clock_gettime(CLOCK_MONOTONIC, &sent_at);
        		sent_pending = 1;
        	}
        	return ret;
        }

        static unsigned char rbuf[65537];
        static int rflags __attribute__((unused));

        static __attribute__((unused)) long recv_datagram(int position, size_t size, struct sockaddr_vm *addr, socklen_t *len)
        {
        	struct iovec iov = { rbuf, size };
        	struct msghdr msg;
        	long ret;
        	if (sent_pending) {
        		struct timespec now;
        		long long left;
        		clock_gettime(CLOCK_MONOTONIC, &now);
        		left = 100000000LL - ((now.tv_sec - sent_at.tv_sec) * 1000000000LL + (now.tv_nsec - sent_at.tv_nsec));
        		if (left > 0)
        			usleep(left / 1000);
        		sent_pending = 0;
        	}
        	memset(&msg, 0, sizeof(msg));
        	msg.msg_iov = &iov;
        	msg.msg_iovlen = 1;
        	if (addr) {
        		memset(addr, 0, sizeof(*addr));
        		msg.msg_name = addr;
        		msg.msg_namelen = sizeof(*addr);
        	}
        	ret = recvmsg(fds[position], &msg, MSG_DONTWAIT);
        	rflags = msg.msg_flags;
        	if (addr) {
        		*len = msg.msg_namelen;
        		if (ret >= 0)
        			learn(addr->svm_port);
        	}
        	return ret;
        }

        static __attribute__((unused)) long close_socket(int position)
        {
        \tlong ret = close(fds[position]);
        \tmemmove(&fds[position], &fds[position + 1], (nfds - position - 1) * sizeof(int));
        \tnfds--;
        \treturn ret;
        }
        """

    /// The operation as one C expression whose value is the syscall's return (errno set on -1);
    /// it uses the locals `struct sockaddr_vm addr` and `socklen_t len`. `step`: the operation's
    /// number since the start (a datagram's tag). `load` gives the expression that loads a
    /// transport module.
    static func expression(_ operation: VsockOperation, step: Int, load: (TransportModule) -> String) -> String {
        func address(_ a: SockAddrVM) -> String { "(addr = vm(\(a.cid)U, \(a.port)U, \(a.flags)), " }
        switch operation {
        case let .loadTransport(module):
            return load(module)
        case let .unloadTransport(module):
            return "delete_module_(\"\(module.rawValue)\")"
        case let .socket(type):
            return "open_socket(\(type.rawValue))"
        case let .bind(ref, a):
            return "\(address(a))bind(fds[\(ref.position)], (struct sockaddr *)&addr, sizeof(addr)))"
        case let .connect(ref, .address(a)):
            return "\(address(a))connect(fds[\(ref.position)], (struct sockaddr *)&addr, sizeof(addr)))"
        case let .connect(ref, .unspec):
            return "(addr = vm(VMADDR_CID_ANY, VMADDR_PORT_ANY, 0), addr.svm_family = AF_UNSPEC, connect(fds[\(ref.position)], (struct sockaddr *)&addr, sizeof(addr)))"
        case let .sendto(ref, a, length):
            return "\(address(a))fill(\(step)U, \(length)), sent(sendto(fds[\(ref.position)], payload, \(length), MSG_DONTWAIT, (struct sockaddr *)&addr, sizeof(addr))))"
        case let .sendtoLearned(ref, cid, learned, length):
            return "(addr = vm(\(cid)U, learned[\(learned)], 0), fill(\(step)U, \(length)), sent(sendto(fds[\(ref.position)], payload, \(length), MSG_DONTWAIT, (struct sockaddr *)&addr, sizeof(addr))))"
        case let .send(ref, length):
            return "(fill(\(step)U, \(length)), sent(send(fds[\(ref.position)], payload, \(length), MSG_DONTWAIT)))"
        case let .recv(ref, buffer, source):
            return "recv_datagram(\(ref.position), \(buffer), \(source ? "&addr, &len" : "NULL, NULL"))"
        case let .getsockname(ref):
            return "(len = sizeof(addr), getsockname_learn(\(ref.position), &addr, &len))"
        case let .bindLearned(ref, cid, learned, offset):
            return "(addr = vm(\(cid)U, learned[\(learned)] + \(offset)U, 0), bind(fds[\(ref.position)], (struct sockaddr *)&addr, sizeof(addr)))"
        case let .getpeername(ref):
            return "(len = sizeof(addr), getpeername(fds[\(ref.position)], (struct sockaddr *)&addr, &len))"
        case let .close(ref):
            return "close_socket(\(ref.position))"
        }
    }

    /// A C string literal.
    static func string(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
