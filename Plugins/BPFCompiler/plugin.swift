// A SwiftPM build-tool plugin that compiles the eBPF C sources in the package's `bpf/` folder
// into BPF object files with `clang -target bpf`, so they ship as resources of the target it is
// applied to (Probes) and are found at run time through `Bundle.module`.
//
// clang comes from the toolchain: `context.tool(named: "clang")` searches the plugin's tool
// dependencies, then the toolchain's own bin directory (the Swift toolchain's clang has the BPF
// target), then PATH. Each object is declared as the output of its build command, which makes
// SwiftPM copy it into the target's resource bundle; every file in `bpf/` is an input, so editing
// a header rebuilds the objects.
import Foundation
import PackagePlugin

@main
struct BPFCompiler: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let clang = try context.tool(named: "clang").url
        let sources = context.package.directoryURL
            .appending(path: "bpf", directoryHint: .isDirectory).resolvingSymlinksInPath()
        let files = try FileManager.default
            .contentsOfDirectory(at: sources, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let programs = files.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
        let inputs = files.filter { ["c", "h"].contains($0.pathExtension) }
        guard !programs.isEmpty else {
            Diagnostics.error("BPFCompiler: no *.bpf.c file in \(sources.path)")
            return []
        }
        return programs.map { source in
            let name = String(source.lastPathComponent.dropLast(".c".count))  // vsock.bpf
            let object = context.pluginWorkDirectoryURL.appending(path: "\(name).o")
            return .buildCommand(
                displayName: "Compiling eBPF \(source.lastPathComponent)",
                executable: clang,
                arguments: [
                    "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_\(Architecture.bpfName)",
                    "-I", sources.path, "-I", "/usr/include/\(Architecture.multiarchTriple)",
                    "-c", source.path, "-o", object.path,
                ],
                inputFiles: inputs,
                outputFiles: [object])
        }
    }
}

/// The build machine's architecture, as libbpf's `bpf_tracing.h` and Debian's multiarch include
/// directory (`asm/types.h`) name it. The objects are for the kernel of the machine they run on,
/// which is the build machine's architecture.
enum Architecture {
    #if arch(arm64)
    static let bpfName = "arm64"
    static let multiarchTriple = "aarch64-linux-gnu"
    #else
    static let bpfName = "x86"
    static let multiarchTriple = "x86_64-linux-gnu"
    #endif
}
