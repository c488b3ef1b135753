import Foundation

/// Builds the vsock modules of a patched tree out of tree, against the base kernel's headers,
/// with module BTF, into one folder of `.ko` files `checker run --modules` loads.
///
/// - `net/vmw_vsock` is built with its own Makefile (vsock, the transports, vsock_diag).
/// - `vhost_vsock` is always rebuilt too, from `drivers/vhost/vsock.c`: it links against the vsock
///   core, whose changed structures change the symbol CRCs (modversions), so a stock vhost_vsock
///   would not load beside a patched core.
/// - The patched headers (`include/net/af_vsock.h`, …) must win over the headers package's:
///   they go first on the include path through `NOSTDINC_FLAGS`, which kbuild places before
///   `LINUXINCLUDE` (the out-of-tree backports trick).
/// - Kbuild skips module BTF without a `vmlinux` next to the headers; it is made here the way
///   Makefile.modfinal would (`pahole -J --btf_base vmlinux`, with the flags of the headers'
///   `scripts/pahole-flags.sh`), with the `vmlinux` extracted from the image the VM boots. Module
///   BTF is what lets the probes read `struct vsock_sock` in the rebuilt core (CO-RE).
struct VsockModuleBuild {
    let base: DebianBaseKernel
    /// The unpacked packages (`DebianBaseKernel.unpack`).
    let packages: String
    /// The image the test VM boots (its vmlinux carries the base BTF for module BTF).
    let image: String
    /// The patched source tree.
    let tree: String
    /// Where kbuild works and the modules end up.
    let output: String

    var modules: String { output + "/modules" }
    var log: String { output + "/build.log" }

    func build() throws {
        let kbuild = output + "/kbuild"
        try? FileManager.default.removeItem(atPath: kbuild)
        try FileManager.default.createDirectory(atPath: kbuild, withIntermediateDirectories: true)
        try copy(tree + "/net/vmw_vsock", to: kbuild + "/vsock")
        try copy(tree + "/drivers/vhost", to: kbuild + "/vhost")
        // A Kbuild file takes precedence over the folder's Makefile: only vhost_vsock.
        try "obj-m := vhost_vsock.o\nvhost_vsock-y := vsock.o\n".write(toFile: kbuild + "/vhost/Kbuild", atomically: true, encoding: .utf8)

        let headers = base.headers(in: packages)
        let include = "-nostdinc -I\(tree)/include -I\(tree)/include/uapi"
        var transcript = ""
        let jobs = "-j\(ProcessInfo.processInfo.activeProcessorCount)"
        for (folder, extra) in [("vsock", [String]()), ("vhost", ["KBUILD_EXTRA_SYMBOLS=\(kbuild)/vsock/Module.symvers"])] {
            let made = try Tools.run("make", ["-C", headers, "M=\(kbuild)/\(folder)", "NOSTDINC_FLAGS=\(include)", jobs, "modules"] + extra)
            transcript += made.stdout + made.stderr
            try transcript.write(toFile: log, atomically: true, encoding: .utf8)
            guard made.succeeded else {
                let firstError = (made.stdout + made.stderr).split(separator: "\n").first { $0.contains("error:") } ?? Substring(made.tail)
                throw SeriesFailure("the patched \(folder) modules do not compile against \(base.headersPackage): \(firstError) (full log: \(log))")
            }
        }

        let vmlinux = try extractVmlinux()
        let flags = try Tools.run("sh", [headers + "/scripts/pahole-flags.sh"], environment: ["PAHOLE": "pahole"])
        try? FileManager.default.removeItem(atPath: modules)
        try FileManager.default.createDirectory(atPath: modules, withIntermediateDirectories: true)
        for folder in ["vsock", "vhost"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: kbuild + "/" + folder) where file.hasSuffix(".ko") {
                let module = modules + "/" + file
                try FileManager.default.copyItem(atPath: kbuild + "/" + folder + "/" + file, toPath: module)
                let btf = try Tools.run("pahole", ["-J"] + flags.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
                                        + ["--btf_base", vmlinux, module])
                guard btf.succeeded else { throw SeriesFailure("pahole -J \(file) failed: \(btf.tail)") }
                // Without DWARF, as Debian installs its own (INSTALL_MOD_STRIP): a tenth of the
                // size, and finit_module in the TCG guest took 590-800 ms instead of 760-1,750
                // (vsock_loopback, vmci; two guests sharing 2 cores). .BTF and .symtab stay: the
                // probes name transports by BTF and place themselves by the symbol table.
                let stripped = try Tools.run("strip", ["--strip-debug", module])
                guard stripped.succeeded else { throw SeriesFailure("strip --strip-debug \(file) failed: \(stripped.tail)") }
            }
        }
    }

    /// `vmlinux` (with its .BTF section) from the image the VM boots, by the source tree's
    /// scripts/extract-vmlinux.
    private func extractVmlinux() throws -> String {
        let vmlinux = output + "/vmlinux"
        guard FileManager.default.fileExists(atPath: image) else {
            throw UsageProblem("the base kernel image \(image) is missing; fetch it: checker kernel fetch \(base.version)")
        }
        let extracted = try Tools.run("sh", ["-c", "sh \"$0\" \"$1\" > \"$2\"", tree + "/scripts/extract-vmlinux", image, vmlinux])
        guard extracted.succeeded else { throw SeriesFailure("extract-vmlinux \(image) failed: \(extracted.tail)") }
        return vmlinux
    }

    private func copy(_ source: String, to destination: String) throws {
        let copied = try Tools.run("cp", ["-a", source, destination])
        guard copied.succeeded else { throw SeriesFailure("cp -a \(source) failed: \(copied.tail)") }
    }
}
