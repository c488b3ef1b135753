import ArgumentParser

/// kselftest's exit codes, which CI systems already understand.
enum ExitStatus: Int32 {
    case pass = 0
    case divergence = 1
    case usage = 2
    case skip = 4

    var exitCode: ExitCode { ExitCode(rawValue) }
}

/// Input the checker cannot work with: one line that names the problem and the fix.
struct UsageProblem: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
