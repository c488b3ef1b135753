import Foundation

/// Checks that a generated `.config` has every option a build asked for.
///
/// `make olddefconfig` resolves dependencies silently: an option whose dependencies are not met
/// is dropped (`KCSAN` without a compiler that supports it, `KASAN_INLINE` where the architecture
/// forbids it), and an option another selects as built-in becomes `y` where a module was asked
/// for. Either would give a kernel without the sanitizer, or with vsock built in, that looks
/// like the one asked for; so each is an error that names the option, what it became, and the
/// `depends on` lines of its Kconfig entry, which say why.
struct KernelConfigCheck {
    /// One option that did not survive.
    struct Lost: Equatable, CustomStringConvertible {
        let option: String
        let wanted: KernelConfigOption.Value
        /// What the `.config` has (`.no` when it does not mention the option).
        let got: KernelConfigOption.Value
        /// Its Kconfig entry's place and `depends on` lines, when the tree has one.
        let kconfig: KconfigEntry?

        var description: String {
            let became = got == .no ? "is not set" : "became \(got)"
            let asked = KernelConfigOption.line(option, wanted)
            guard let kconfig else {
                return "\(asked) was asked for but \(became) after make olddefconfig: no Kconfig file of this tree defines \(option)"
            }
            let reason = kconfig.dependencies.isEmpty ? "no depends on: something it selects or a choice it is in overrides it"
                : kconfig.dependencies.map { "depends on \($0)" }.joined(separator: "; ")
            return "\(asked) was asked for but \(became) after make olddefconfig; \(kconfig.place): \(reason)"
        }
    }

    let requested: [KernelConfigOption]

    /// The options of `requested` that `config` (a `.config`'s text) does not have as asked.
    /// `entry` finds an option's Kconfig entry (``KconfigEntry/find(_:in:)`` on the tree).
    func lost(in config: String, entry: (String) -> KconfigEntry?) -> [Lost] {
        let values = KernelConfigOption.values(in: config)
        return requested.compactMap { option in
            let got = values[option.name] ?? .no
            return got == option.value ? nil : Lost(option: option.name, wanted: option.value, got: got, kconfig: entry(option.name))
        }
    }
}

/// An option's entry in the tree's Kconfig files: where it is and its `depends on` lines.
struct KconfigEntry: Equatable {
    /// `lib/Kconfig.kcsan:13`.
    let place: String
    /// The expressions of its `depends on` lines, in order.
    let dependencies: [String]

    /// Reads the entry of `name` (`config NAME` or `menuconfig NAME`) from Kconfig text; its
    /// attributes are the indented lines up to the next unindented one.
    static func parse(_ name: String, in text: String, file: String) -> KconfigEntry? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "config \(name)" || $0 == "menuconfig \(name)" }) else { return nil }
        var dependencies: [String] = []
        for line in lines[(start + 1)...] {
            if let first = line.first, first != " " && first != "\t" { break }
            let attribute = line.trimmingCharacters(in: .whitespaces)
            if attribute.hasPrefix("depends on ") { dependencies.append(String(attribute.dropFirst("depends on ".count))) }
            if attribute == "help" || attribute == "---help---" { break }
        }
        return KconfigEntry(place: "\(file):\(start + 1)", dependencies: dependencies)
    }

    /// The entry of `name` in the source tree `tree` (every `Kconfig*` file searched).
    static func find(_ name: String, in tree: String) -> KconfigEntry? {
        guard let found = try? Tools.run("grep", ["-rlE", "--include=Kconfig*", "^(menu)?config \(name)$", tree]), found.succeeded else { return nil }
        for file in found.stdout.split(separator: "\n").map(String.init).sorted() {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            let relative = file.hasPrefix(tree + "/") ? String(file.dropFirst(tree.count + 1)) : file
            if let entry = parse(name, in: text, file: relative) { return entry }
        }
        return nil
    }
}
