import ArgumentParser
import Dispatch
import Foundation

/// `checker vm [options] -- <checker arguments>`: boots the test kernel with virtme-ng and runs
/// this checker inside it.
struct VM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Boot the test kernel with virtme-ng and run the checker inside it.",
        discussion: """
            Runs 'vng -r KERNEL --disable-kvm --memory M --cpus C --exec "<this checker> <arguments>"' \
            under TCG. The guest sees the host's filesystem read-only with copy-on-write overlays; \
            only the results folder (a new <results>/<UTC timestamp>/ per run, never reused) is \
            shared writable. 'run' gets '--results FOLDER' and writes summary.json, ktap.txt and \
            case files there; the host adds console.log, junit.xml, prints the KTAP and the closing \
            line. A kernel oops, panic, BUG, WARNING or hang on the guest console, or a guest that \
            runs past --timeout (the VM is killed), is reported as the 'vm.guest' test. Exit status: \
            the guest's (0 pass, 1 divergence, 2 usage error, 4 skip); 1 for a guest finding.
            Example: checker vm -- run --profile mainline --seeds 20
            """
    )

    @Option(help: ArgumentHelp("The kernel to boot: an image's path, or a Debian version (fetched into the cache, never installed).",
                               valueName: "path|version"))
    var kernel: String = TestKernel.vsock.version

    @Option(help: "Guest memory (QEMU -m: a number with an optional K, M, G or T suffix).")
    var memory: String = "2G"

    @Option(help: "Guest CPUs.")
    var cpus: Int = 2

    @Option(help: ArgumentHelp("Kill the VM after this many seconds (boot included; a TCG boot takes 12-60 s).",
                               valueName: "seconds"))
    var timeout: Int = 1800

    @Option(help: ArgumentHelp("The folder under which each run gets a new timestamped folder.", valueName: "dir"))
    var results: String = VMResultsFolder.defaultBase

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Extra QEMU arguments, e.g. --qemu-opts \"-cpu EPYC\" (repeatable).", valueName: "opts"))
    var qemuOpts: [String] = []

    @Flag(help: "Use KVM instead of TCG (/dev/kvm is not usable for guests on the project's machines).")
    var kvm = false

    @Flag(help: "Echo the guest console to stderr as it arrives.")
    var showConsole = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The checker's arguments for the guest, after --.",
                                                           valueName: "checker arguments"))
    var checkerArguments: [String] = []

    func validate() throws {
        guard !checkerArguments.isEmpty else {
            throw UsageProblem("give the checker's arguments after --, e.g. checker vm -- run --profile mainline")
        }
        guard cpus > 0 else { throw UsageProblem("--cpus must be a positive number of CPUs, not \(cpus)") }
        guard timeout > 0 else { throw UsageProblem("--timeout must be a positive number of seconds, not \(timeout)") }
        guard Self.isMemorySize(memory) else {
            throw UsageProblem("--memory \(memory) is not a size; give a number with an optional K, M, G or T suffix, e.g. 2G")
        }
        if VngCommand.option("--results", in: checkerArguments) != nil {
            throw UsageProblem("the guest's --results is chosen by checker vm; give --results DIR before the --")
        }
    }

    static func isMemorySize(_ text: String) -> Bool {
        var digits = Substring(text)
        if let last = digits.last, "KMGTkmgt".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) && Int(digits).map { $0 > 0 } == true
    }

    func run() async throws {
        let session = try prepare()
        let status = try await session.run()
        try bringStoreHome(from: session.folder)
        if status != 0 { throw ExitCode(status) }
    }

    /// The root command may still call the synchronous `run()`: run the async one to completion.
    mutating func run() throws {
        let session = try prepare()
        let status = try Self.wait(for: session)
        try bringStoreHome(from: session.folder)
        if status != 0 { throw ExitCode(status) }
    }

    /// The failure store travels with a guest `run` that names none: the host's is copied into the
    /// results folder before the boot (the guest's run uses `<results>/store`) and back after.
    private var carriesStore: Bool {
        checkerArguments.first == "run" && VngCommand.option("--store", in: checkerArguments) == nil
            && FailureStore.defaultPath != nil
    }

    func bringStoreHome(from folder: String) throws {
        guard carriesStore, let home = FailureStore.defaultPath else { return }
        try FailureStore(folder + "/store").copy(to: home)
    }

    /// Runs a prepared session to completion from synchronous code; its exit status.
    static func wait(for session: VMSession) throws -> Int32 {
        let box = StatusBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await session.run()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// Checks the machine (kernel image, vng) and creates the results folder.
    func prepare() throws -> VMSession {
        let image = try Self.kernelImage(kernel)
        guard let vng = Self.findVng() else {
            throw UsageProblem("vng (virtme-ng) is not installed; run bash scripts/setup.sh (it installs virtme-ng "
                               + "\(Self.virtmeVersion) into \(Self.virtmeEnvironment))")
        }
        let base = URL(fileURLWithPath: results, isDirectory: true).standardizedFileURL.path
        if let problem = VngCommand.rwdirProblem(base) { throw UsageProblem(problem + "; give another --results directory") }
        let folder = try VMResultsFolder.create(under: base)
        if carriesStore, let home = FailureStore.defaultPath {
            try FailureStore(home).copy(to: folder + "/store")
        }
        let checker = Self.executablePath()
        let command = VngCommand(
            kernel: image, memory: memory, cpus: cpus, kvm: kvm,
            qemuOptions: qemuOpts, resultsFolder: folder,
            guestCommand: VngCommand.guestCommand(checker: checker, arguments: checkerArguments, resultsFolder: folder))
        return VMSession(vng: vng, command: command, guestArguments: checkerArguments, folder: folder,
                         timeoutSeconds: timeout, echoConsole: showConsole)
    }

    /// The running checker's absolute path: the guest sees the host's filesystem, so the guest
    /// runs this very binary.
    static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    /// The image to boot: `path` itself, or the cached image of a Debian kernel version (fetched
    /// now if it is not there yet).
    static func kernelImage(_ path: String, cache: String = CheckerCache.defaultPath) throws -> String {
        if FileManager.default.fileExists(atPath: path) { return URL(fileURLWithPath: path).standardizedFileURL.path }
        guard TestKernel.looksLikeVersion(path) else {
            throw UsageProblem("no kernel image at \(path); give --kernel the path of a bzImage or vmlinuz, or a Debian kernel version such as \(TestKernel.vsock.version)")
        }
        return try TestKernel.resolve(path).fetch(into: cache) { line in
            FileHandle.standardError.write(Data("checker vm: \(line)\n".utf8))
        }
    }

    /// The virtme-ng release the project uses, and the virtual environment scripts/setup.sh puts
    /// it in (the system's Python is left alone).
    static let virtmeVersion = "1.42"
    static var virtmeEnvironment: String { CheckerCache.defaultPath + "/virtme-ng" }

    /// `vng` from the project's virtual environment, else on PATH (a virtme-ng of your own).
    static func findVng() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let folders = [virtmeEnvironment + "/bin"] + (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return folders.map { URL(fileURLWithPath: $0).appendingPathComponent("vng").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The async run's result, handed to the thread that waits for it.
private final class StatusBox: @unchecked Sendable {
    var result: Result<Int32, any Error>?
}
