// swift-tools-version:6.1
// Layout (fixed by the user): Sources/Model, Sources/Generators, Sources/Probes, Sources/checker,
// Tests, bpf. Modules depend downwards only: checker → Generators → Model, checker → Probes → CLibBPF.
import PackageDescription

let package = Package(
    name: "kernel-conformance-checker",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "checker", targets: ["checker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // Reference models: pure Swift, deterministic, no I/O.
        .target(
            name: "Model",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // Choice-sequence engine, operation generators, shrinker.
        .target(name: "Generators", dependencies: ["Model"]),
        // libbpf, as a system library (Debian's libbpf-dev, found through pkg-config).
        .systemLibrary(
            name: "CLibBPF",
            path: "Sources/Probes/CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]
        ),
        // The eBPF side: loading, attaching, event decoding.
        .target(
            name: "Probes",
            dependencies: ["CLibBPF", "CProbeCalls"],
            exclude: ["CLibBPF", "CProbeCalls"],
            plugins: ["BPFCompiler"]
        ),
        // perf_event_open for trace events, which Swift cannot call (syscall(2) is variadic).
        .target(name: "CProbeCalls", path: "Sources/Probes/CProbeCalls"),
        // Compiles bpf/*.bpf.c with `clang -target bpf`; the objects become resources of Probes.
        .plugin(name: "BPFCompiler", capability: .buildTool()),
        // finit_module, delete_module, gettid and struct sockaddr_vm, for the live backend.
        .target(name: "CKernelCalls", path: "Sources/checker/CKernelCalls"),
        // The patch-logic harness's child process: its sandbox (namespaces, uid, seccomp) and
        // its crash reports.
        .target(name: "CSandbox", path: "Sources/checker/CSandbox"),
        .executableTarget(
            name: "checker",
            dependencies: [
                "Model", "Generators", "Probes", "TestDoubles", "CKernelCalls", "CSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            exclude: ["CKernelCalls", "CSandbox"],
            // The patch-logic harness's kernel-API shim: C sources compiled at run time with a
            // patch's functions, never as part of this target.
            resources: [.copy("Harness/Shim"), .copy("Harness/ShimGmem")]
        ),
        // Test doubles: a simulated kernel with planted mutants, for testing and benchmarking the
        // engine. Never the live path.
        .target(name: "TestDoubles", dependencies: ["Model", "Generators",
                .product(name: "SystemPackage", package: "swift-system")], path: "Tests/Doubles"),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Generators", "TestDoubles"]),
        .testTarget(name: "GeneratorsTests", dependencies: ["Generators", "Model", "TestDoubles"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes"]),
        // Consoles/: real kernel reports captured in the test VM (scripts/crash-consoles), read
        // by path from the tests.
        .testTarget(name: "CheckerTests", dependencies: ["checker"], exclude: ["Consoles"]),
    ]
)
