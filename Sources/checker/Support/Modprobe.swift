import Foundation

/// `--load-module NAME`: modules a check needs loaded first (kvm_amd for /dev/kvm in the test VM).
enum Modprobe {
    /// One usage line for a name that is not a module name.
    static func validate(_ names: [String]) throws {
        for name in names where name.isEmpty || name.contains("/") || name.hasPrefix("-") {
            throw UsageProblem("--load-module '\(name)' is not a module name; give e.g. --load-module kvm_amd")
        }
    }

    /// `modprobe name`; one line saying what happened. A module that cannot be loaded is not a
    /// usage error: what needs it is then reported absent, with the reason.
    static func load(_ name: String) -> String {
        let finished = try? Tools.run("modprobe", [name])
        let loaded = FileManager.default.fileExists(atPath: "/sys/module/\(name)")
        switch (finished?.succeeded ?? false, loaded) {
        case (true, true): return "modprobe \(name): loaded"
        case (_, true): return "modprobe \(name) failed (\(finished?.tail ?? "not run")), but \(name) is loaded"
        default: return "modprobe \(name) failed: \(finished?.tail ?? "modprobe not found"); \(name) is not loaded"
        }
    }
}
