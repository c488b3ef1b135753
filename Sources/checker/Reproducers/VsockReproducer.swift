import Model
import Probes

/// A standalone C reproducer of a vsock divergence: the minimal sequence as libc calls with the
/// real structs of `<linux/vm_sockets.h>`, each step's result printed, and the divergent step
/// checked against what the kernel showed when the checker found it.
///
/// Exit status: 0 reproduced (the divergent step gave the observed result again, or for a
/// reference-count divergence left the observed `/sys/module/*/refcnt`), 1 not reproduced, 2 the
/// divergence is not visible to a program (which transport callback ran: only the probes show
/// it; replay the case with the checker instead).
/// Transport modules are loaded with `modprobe` (dependencies, compressed modules) or, for
/// rebuilt modules, with `finit_module` on their file; it must run as root, in a kernel like the
/// one the divergence was found on.
struct VsockReproducer {
    let minimal: [(VsockOperation, VsockObservation)]
    /// The signature's mismatch kind.
    let mismatch: Mismatch.Kind
    let expected: String
    let title: String
    /// Rebuilt module files by module name (`checker run --modules`); others come from modprobe.
    var replacements: [String: String] = [:]
    /// A crash reproducer: the kernel is expected to crash in the last step with this bug; the
    /// program reaching its end means it did not (exit 1).
    var crash: CrashSignature? = nil

    /// The reproducer of a crash: `operations` up to the crashing one (no observations: the
    /// guest died before it could see any).
    init(crash signature: CrashSignature, operations: [VsockOperation], title: String, replacements: [String: String]) {
        let none = VsockObservation(result: .value(0), calls: [], refcounts: ModuleRefcounts(), transmissions: nil)
        self.minimal = operations.map { ($0, none) }
        self.mismatch = .result
        self.expected = "no crash"
        self.title = title
        self.replacements = replacements
        self.crash = signature
    }

    init(minimal: [(VsockOperation, VsockObservation)], mismatch: Mismatch.Kind, expected: String, title: String,
         replacements: [String: String] = [:]) {
        self.minimal = minimal
        self.mismatch = mismatch
        self.expected = expected
        self.title = title
        self.replacements = replacements
    }

    /// What must be loaded before a rebuilt module, in order: its dependencies, depth first, each
    /// `name=path` when rebuilt too (finit_module; a rebuilt module's symbols are not the stock
    /// ones, so a stock dependency would not do) or `name` (modprobe). Read from the files'
    /// `.modinfo` now, so that the program needs no `depmod` of the rebuilt folder.
    func prerequisites(of module: String) -> String {
        var order: [String] = []
        func visit(_ name: String) {
            guard let path = replacements[name], let file = ModuleFile(path: path) else { return }
            for dependency in file.depends where !order.contains(where: { $0 == dependency || $0.hasPrefix(dependency + "=") }) {
                if replacements[dependency] != nil {
                    visit(dependency)
                    order.append("\(dependency)=\(replacements[dependency]!)")
                } else {
                    order.append(dependency)
                }
            }
        }
        visit(module)
        return order.joined(separator: " ")
    }

    /// `port` in C: `learned[i] + k` when it is (k ≤ 2) a port the earlier steps learned as the
    /// program learns them, else the number.
    func portExpression(_ port: UInt32) -> String {
        var learned = LearnedPorts()
        for (operation, observation) in minimal.dropLast() { learned.learn(from: observation.result, of: operation) }
        for (index, base) in learned.ports.enumerated() {
            for offset: UInt32 in 0...2 where base &+ offset == port {
                return offset == 0 ? "learned[\(index)]" : "learned[\(index)] + \(offset)U"
            }
        }
        return "\(port)U"
    }

    func source() -> String {
        var steps: [String] = []
        for (index, (operation, _)) in minimal.enumerated() {
            let last = index == minimal.count - 1
            steps.append("\t/* \(index + 1): \(cComment(operation.description)) */")
            steps.append("\terrno = 0;")
            steps.append("\tret = \(expression(operation, step: index + 1));")
            steps.append("\tshow(\(index + 1), \(cString(operation.description)), ret);")
            if case let .recv(_, _, source) = operation { steps.append("\tshow_datagram(ret, \(source ? 1 : 0), &addr);") }
            if last { steps.append("\tlast = ret;") }
        }
        let observed = minimal.last?.1.result
        let check: String
        switch (mismatch, observed) {
        case _ where crash != nil:
            check = "\t(void)last;\n\t/* The kernel should have crashed in the last step: still here, it did not. */\n"
                + "\tprintf(\"not reproduced: the kernel did not crash\\n\");\n\treturn 1;"
        case (.result, let .failure(errno)?):
            check = "\treproduced = last < 0 && last_errno == \(errno.rawValue); /* \(errno.symbol) */"
        case (.result, let .address(address)?):
            // getsockname/getpeername: the address the kernel showed, not just success; a port at
            // or just after one the kernel chose earlier is named by it, since ephemeral ports
            // start at a random place in every run (finding 6: "the port after learned#0").
            check = "\treproduced = last >= 0 && addr.svm_cid == \(address.cid)U && addr.svm_port == \(portExpression(address.port));"
        case (.result, let .received(datagram)?):
            // recv/recvfrom: the same bytes, flags and source as the kernel showed.
            let head = datagram.head.enumerated().map { " && rbuf[\($0.offset)] == \($0.element)" }.joined()
            let source = datagram.source.map { " && addr.svm_cid == \($0.cid)U && addr.svm_port == \($0.port)U" } ?? ""
            check = "\treproduced = last == \(datagram.copied) && !!(rflags & MSG_TRUNC) == \(datagram.truncated ? 1 : 0)\(head)\(source);"
        case (.result, .some):
            check = "\treproduced = last >= 0;"
        case (.refcount, .some):
            // The counts the kernel showed after the divergent step, read again from sysfs.
            let counts = minimal.last!.1.refcounts.map { "refcnt(\"\($0.module.rawValue)\") == \($0.count)" }
            check = "\t(void)last;\n\treproduced = " + (counts.isEmpty ? "1" : counts.joined(separator: " &&\n\t\t")) + ";"
        default:
            check = "\t(void)last;\n\tprintf(\"the divergence (\(mismatch.rawValue) mismatch) shows only in the probes, not in syscall results: replay the case with the checker\\n\");\n\treturn 2;"
        }
        let unloadAll = TransportModule.allCases.map { "\tdelete_module_(\"\($0.rawValue)\");" }.joined(separator: "\n")
        let header: String
        if let crash {
            header = """
                // Generated by checker: a standalone reproducer of a kernel crash.
                //   \(cComment(title))
                // Expected: the kernel crashes in the last step: \(cComment(crash.description))
                // Build and run as root in the test VM: cc -o repro THIS.c && ./repro
                // Reproduced: the kernel crashes (the program never returns; the console shows the
                // report). Exit status 1: it ran to the end, not reproduced.
                """
        } else {
            header = """
                // Generated by checker: a standalone reproducer of a vsock divergence.
                //   \(cComment(title))
                // The model expected: \(cComment(expected.replacingOccurrences(of: "\n", with: " ")))
                // The kernel showed:  \(cComment(minimal.last.map { "\($0.1)" } ?? ""))
                // Build and run as root in the test VM: cc -o repro THIS.c && ./repro
                // Exit status: 0 reproduced, 1 not reproduced, 2 not visible in syscall results.
                """
        }
        return """
            \(header)
            \(VsockCCalls.prelude)

            static int last_errno;

            /* A rebuilt module from its file, after what it needs ("name=path" rebuilt, "name"
             * installed, space-separated; one already loaded is left as it is), or the installed
             * one with its dependencies. */
            static __attribute__((unused)) long load(const char *name, const char *path, const char *before)
            {
            \tchar command[256], list[1024], *item, *save = NULL;
            \tsnprintf(list, sizeof(list), "%s", before ? before : "");
            \tfor (item = strtok_r(list, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
            \t\tchar *file = strchr(item, '=');
            \t\tif (file) {
            \t\t\tint fd;
            \t\t\t*file++ = '\\0';
            \t\t\tfd = open(file, O_RDONLY | O_CLOEXEC);
            \t\t\tif (fd >= 0 && syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            \t\t\t\tprintf("    could not load %s from %s: %s\\n", item, file, strerrorname_np(errno));
            \t\t\tif (fd >= 0)
            \t\t\t\tclose(fd);
            \t\t} else {
            \t\t\tsnprintf(command, sizeof(command), "modprobe %s", item);
            \t\t\tif (system(command) != 0)
            \t\t\t\tprintf("    could not modprobe %s\\n", item);
            \t\t}
            \t}
            \tif (path) {
            \t\tint fd = open(path, O_RDONLY | O_CLOEXEC);
            \t\tlong ret = fd < 0 ? -1 : syscall(SYS_finit_module, fd, "", 0);
            \t\tif (fd >= 0)
            \t\t\tclose(fd);
            \t\treturn ret;
            \t}
            \tsnprintf(command, sizeof(command), "modprobe %s", name);
            \treturn system(command) == 0 ? 0 : (errno = ENOENT, -1);
            }

            /* /sys/module/<name>/refcnt, or -1 when the module is not loaded. */
            static __attribute__((unused)) long refcnt(const char *name)
            {
            \tchar path[128];
            \tlong count = -1;
            \tFILE *file;
            \tsnprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
            \tfile = fopen(path, "r");
            \tif (!file)
            \t\treturn -1;
            \tif (fscanf(file, "%ld", &count) != 1)
            \t\tcount = -1;
            \tfclose(file);
            \tprintf("    /sys/module/%s/refcnt = %ld\\n", name, count);
            \treturn count;
            }

            static __attribute__((unused)) void show(int step, const char *what, long ret)
            {
            \tlast_errno = ret < 0 ? errno : 0;
            \tif (ret < 0)
            \t\tprintf("%2d  %-60s = -1 %s\\n", step, what, strerrorname_np(last_errno));
            \telse
            \t\tprintf("%2d  %-60s = %ld\\n", step, what, ret);
            }

            /* What a receive returned: the tag its first bytes spell, MSG_TRUNC, the source. */
            static __attribute__((unused)) void show_datagram(long ret, int with_source, const struct sockaddr_vm *addr)
            {
            \tif (ret < 0)
            \t\treturn;
            \tprintf("    tag %u%s", ret >= 4 ? (unsigned)rbuf[0] | (unsigned)rbuf[1] << 8 | (unsigned)rbuf[2] << 16 | (unsigned)rbuf[3] << 24 : 0,
            \t       rflags & MSG_TRUNC ? " MSG_TRUNC" : "");
            \tif (with_source)
            \t\tprintf(" from cid %u port %u", addr->svm_cid, addr->svm_port);
            \tprintf("\\n");
            }

            int main(void)
            {
            \tstruct sockaddr_vm addr;
            \tsocklen_t len;
            \tlong ret, last = 0;
            \tint reproduced = 0;
            \t(void)addr;
            \t(void)len;

            \t/* The checker's starting state: no vsock socket, no transport module. */
            \(unloadAll)
            \(steps.joined(separator: "\n"))
            \(check)
            \tprintf("%s\\n", reproduced ? "reproduced" : "not reproduced");
            \treturn reproduced ? 0 : 1;
            }

            """
    }

    private func expression(_ operation: VsockOperation, step: Int) -> String {
        VsockCCalls.expression(operation, step: step) { module in
            "load(\"\(module.rawValue)\", \(replacements[module.rawValue].map(cString) ?? "NULL"), "
                + (replacements[module.rawValue] == nil ? "NULL" : cString(prerequisites(of: module.rawValue))) + ")"
        }
    }

    private func cString(_ text: String) -> String { VsockCCalls.string(text) }

    private func cComment(_ text: String) -> String { text.replacingOccurrences(of: "*/", with: "* /") }
}
