/// One Kconfig option a kernel build asks for, its value, and why the build needs it.
///
/// The why is written above the line in the fragment the build hands to
/// `scripts/kconfig/merge_config.sh`, so the generated `config-fragment` in a build folder says
/// why each option is there:
///
///     # The vsock core as a module: the checker loads and unloads it between seeds.
///     CONFIG_VSOCKETS=m
struct KernelConfigOption: Hashable, Sendable {
    /// A Kconfig value as `.config` spells it.
    enum Value: Hashable, Sendable, CustomStringConvertible {
        case yes, module, no
        case text(String)

        /// `y`, `m`, `is not set`, or the quoted string.
        var description: String {
            switch self {
            case .yes: "y"
            case .module: "m"
            case .no: "is not set"
            case .text(let text): "\"\(text)\""
            }
        }
    }

    /// The option's name without `CONFIG_`, e.g. `VSOCKETS`.
    let name: String
    let value: Value
    /// Why the build needs it (one sentence; written as a comment into the fragment).
    let why: String

    init(_ name: String, _ value: Value, _ why: String) {
        self.name = name
        self.value = value
        self.why = why
    }

    /// The option's line in a `.config` or fragment: `CONFIG_X=y`, `# CONFIG_X is not set`.
    var line: String { Self.line(name, value) }

    static func line(_ name: String, _ value: Value) -> String {
        switch value {
        case .no: "# CONFIG_\(name) is not set"
        default: "CONFIG_\(name)=\(value)"
        }
    }

    /// The options a `.config` sets, by name: `CONFIG_X=v` lines and `# CONFIG_X is not set`
    /// lines (an option a `.config` does not mention at all is not set either: its dependencies
    /// are off, so Kconfig did not ask).
    static func values(in config: String) -> [String: Value] {
        var values: [String: Value] = [:]
        for line in config.split(separator: "\n") {
            if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                values[String(line.dropFirst("# CONFIG_".count).dropLast(" is not set".count))] = .no
            } else if line.hasPrefix("CONFIG_"), let equals = line.firstIndex(of: "=") {
                let name = String(line[line.index(line.startIndex, offsetBy: "CONFIG_".count)..<equals])
                let raw = line[line.index(after: equals)...]
                switch raw {
                case "y": values[name] = .yes
                case "m": values[name] = .module
                case "n": values[name] = .no
                default:
                    let unquoted = raw.hasPrefix("\"") && raw.hasSuffix("\"") && raw.count >= 2 ? raw.dropFirst().dropLast() : raw
                    values[name] = .text(String(unquoted))
                }
            }
        }
        return values
    }
}
