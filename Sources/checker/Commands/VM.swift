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
            Runs 'vng -r KERNEL --memory M --cpus C --exec "<this checker> <arguments>"' under KVM \
            when it can run the guest, else under TCG (--disable-kvm), and says which on its first \
            line: --accel auto opens /dev/kvm, creates a VM, then starts the kernel under KVM with \
            QEMU for at most 5 s (the CPU model and machine of the boot; a --qemu-opts -cpu model \
            must be given whole); --accel kvm|tcg forces one (kvm: a usage error when KVM cannot). \
            The guest sees the host's filesystem read-only with copy-on-write overlays; \
            only the results folder (a new <results>/<UTC timestamp>/ per run, never reused) is \
            shared writable. 'run' gets '--results FOLDER' and writes summary.json, ktap.txt and \
            case files there; the host adds console.log, junit.xml, prints the KTAP and the closing \
            line. A kernel oops, panic, BUG, WARNING or hang on the guest console, or a guest that \
            runs past --timeout (the VM is killed), is reported as the 'vm.guest' test. \
            With --jobs N (run only), N guests start at once, guest i running 'run ... --shard i/N' \
            in <results>/<timestamp>/shard-i/; their reports are merged as 'checker merge' does into \
            <results>/<timestamp>/ and the merged KTAP is printed. A guest that crashes is reported as \
            'vm.guest.shard-i' and the others go on; the failure store's cases run in shard 1 only, \
            and every guest's new cases come home. Exit status: the guest's (0 pass, 1 divergence, \
            2 usage error, 4 skip); 1 for a guest finding; with --jobs, the merged report's.
            Example: checker vm -- run --profile mainline --seeds 20
            Example: checker vm --cpus 1 --jobs 2 -- run --profile mainline --seeds 20
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

    @Option(help: ArgumentHelp("The accelerator: auto (KVM when it can run the guest, else TCG), kvm or tcg.",
                               valueName: "auto|kvm|tcg"))
    var accel: AcceleratorRequest = .auto

    @Flag(help: ArgumentHelp("Deprecated: use --accel kvm.", visibility: .hidden))
    var kvm = false

    @Option(help: ArgumentHelp("Run N guests at once, guest i running 'run ... --shard i/N', and merge their reports (run only).",
                               valueName: "N"))
    var jobs: Int?

    @Flag(help: "Echo the guest console to stderr as it arrives.")
    var showConsole = false

    @Option(help: ArgumentHelp("Run this shell command in the guest instead of the checker (a test binary, a C reproducer): same VM, console watched for kernel findings; its stdout is printed and its status returned.",
                               valueName: "command"))
    var exec: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The checker's arguments for the guest, after --.",
                                                           valueName: "checker arguments"))
    var checkerArguments: [String] = []

    func validate() throws {
        if exec != nil {
            guard checkerArguments.isEmpty, jobs == nil else {
                throw UsageProblem("--exec runs its command instead of the checker: give no checker arguments after -- and no --jobs")
            }
        } else if checkerArguments.isEmpty {
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
        if let folder = reproducerFolder {
            guard FileManager.default.fileExists(atPath: folder) else {
                throw UsageProblem("the folder of --reproducer, \(folder), does not exist; create it or give another path")
            }
            if let problem = VngCommand.rwdirProblem(folder) { throw UsageProblem(problem + "; give --reproducer another path") }
        }
        if kvm, accel == .tcg { throw UsageProblem("--kvm (the old spelling of --accel kvm) contradicts --accel tcg; give one of them") }
        if let jobs {
            guard jobs > 0 else { throw UsageProblem("--jobs must be a positive number of guests, not \(jobs)") }
            guard checkerArguments.first == "run" else {
                throw UsageProblem("--jobs splits a 'run' into shards, one per guest, and cannot split '\(checkerArguments[0])'; drop --jobs, or give -- run ...")
            }
            if VngCommand.option("--shard", in: checkerArguments) != nil {
                throw UsageProblem("--jobs \(jobs) gives guest i the shard i/\(jobs) itself; drop the guest's --shard (or drop --jobs to run one shard of a CI split)")
            }
        }
    }

    /// The host folder the guest's `replay --reproducer FILE` writes into: the guest sees the
    /// host's files read-only except the folders given to it writable, so this one is too.
    var reproducerFolder: String? {
        guard checkerArguments.first == "replay", let file = VngCommand.option("--reproducer", in: checkerArguments) else {
            return nil
        }
        return URL(fileURLWithPath: file).standardizedFileURL.deletingLastPathComponent().path
    }

    /// `--accel`, with the deprecated `--kvm` read as `--accel kvm`.
    var acceleratorRequest: AcceleratorRequest { kvm ? .kvm : accel }

    static func isMemorySize(_ text: String) -> Bool {
        var digits = Substring(text)
        if let last = digits.last, "KMGTkmgt".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) && Int(digits).map { $0 > 0 } == true
    }

    func run() async throws {
        let accelerator = try await chooseAccelerator()
        let status: Int32
        if let jobs, jobs > 1 {
            let pool = try preparePool(VMPool.shardJobs(checkerArguments, count: jobs), accelerator: accelerator)
            note("\(jobs) guests at once, guest i running shard i/\(jobs) (\(cpus) CPUs each); merged results in \(pool.folder)")
            let outcome = try await pool.run(note: Self.printError)
            outcome.conclusion.say()
            try bringStoreHome(from: pool.sessions.map(\.folder))
            status = outcome.conclusion.status
        } else {
            let session = try prepare(accelerator: accelerator)
            status = try await session.run()
            try bringStoreHome(from: [session.folder])
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// The root command may still call the synchronous `run()`: run the async one to completion.
    mutating func run() throws {
        let command = self
        try Self.blocking { try await command.run() }
    }

    /// Finds out whether KVM can run the guest (unless `--accel tcg`), decides, and says so: the
    /// first line `checker vm` prints (only fetching the kernel, which the KVM trial boots, may
    /// come before it, on the kernel's first use).
    func chooseAccelerator(devicePath: String = KVMDevice.defaultPath) async throws -> AcceleratorChoice {
        let kernel = self.kernel
        let qemuOptions = qemuOpts
        let probe = KVMProbe(devicePath: devicePath, boot: {
            await KVMBootProbe(kernel: try Self.kernelImage(kernel), qemuOptions: qemuOptions).problem()
        })
        let choice = try await acceleratorRequest.choose(probe: probe)
        Self.note(choice.announcement)
        return choice
    }

    /// A line on stderr, as it is.
    @Sendable static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func note(_ text: String) { printError("checker vm: " + text) }

    private func note(_ text: String) { Self.note(text) }

    /// The failure store travels with a guest `run` that names none: the host's is copied into the
    /// results folder before the boot (the guest's run uses `<results>/store`) and back after. In a
    /// pool it goes to the first guest only, and every guest's new cases come back (``PoolStore``).
    private var carriesStore: Bool {
        checkerArguments.first == "run" && VngCommand.option("--store", in: checkerArguments) == nil
            && FailureStore.defaultPath != nil
    }

    func bringStoreHome(from guestFolders: [String]) throws {
        guard carriesStore, let home = FailureStore.defaultPath else { return }
        try PoolStore.bringHome(guestFolders: guestFolders, to: home)
    }

    /// Runs async work to completion from synchronous code.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// Runs a prepared session to completion from synchronous code; its exit status.
    static func wait(for session: VMSession) throws -> Int32 {
        try blocking { try await session.run() }
    }

    /// Checks the machine (kernel image, vng), creates the results folder, and carries the store,
    /// for a guest running `arguments` (default: the ones after --).
    func prepare(accelerator: AcceleratorChoice, arguments: [String]? = nil) throws -> VMSession {
        let (vng, image) = try machine()
        let folder = try newRunFolder()
        if carriesStore, let home = FailureStore.defaultPath {
            try PoolStore.carry(from: home, toFirstGuest: folder)
        }
        return session(vng: vng, image: image, folder: folder, arguments: arguments ?? checkerArguments, accelerator: accelerator)
    }

    /// The same for a guest whose arguments name files in its own results folder (a replay's
    /// `--journal`): `arguments` gets the folder. The failure store is not carried (the guest
    /// replays one case).
    func prepare(accelerator: AcceleratorChoice, argumentsIn arguments: (String) -> [String]) throws -> VMSession {
        let (vng, image) = try machine()
        let folder = try newRunFolder()
        return session(vng: vng, image: image, folder: folder, arguments: arguments(folder), accelerator: accelerator)
    }

    /// The same for a pool of guests running `jobs`, each in a subfolder of the run's folder.
    func preparePool(_ jobs: [VMPool.Job], accelerator: AcceleratorChoice) throws -> VMPool {
        let (vng, image) = try machine()
        let folder = try newRunFolder()
        let template = session(vng: vng, image: image, folder: folder, arguments: checkerArguments, accelerator: accelerator)
        let pool = try VMPool(folder: folder, jobs: jobs, template: template, checker: Self.executablePath())
        if carriesStore, let home = FailureStore.defaultPath, let first = pool.sessions.first {
            try PoolStore.carry(from: home, toFirstGuest: first.folder)
        }
        return pool
    }

    /// The kernel image to boot and vng, or the usage problem that stops the boot.
    private func machine() throws -> (vng: String, image: String) {
        let image = try Self.kernelImage(kernel)
        guard let vng = Self.findVng() else {
            throw UsageProblem("vng (virtme-ng) is not installed; run bash scripts/setup.sh (it installs virtme-ng "
                               + "\(Self.virtmeVersion) into \(Self.virtmeEnvironment))")
        }
        return (vng, image)
    }

    /// A new `<results>/<timestamp>/` folder.
    private func newRunFolder() throws -> String {
        let base = URL(fileURLWithPath: results, isDirectory: true).standardizedFileURL.path
        if let problem = VngCommand.rwdirProblem(base) { throw UsageProblem(problem + "; give another --results directory") }
        return try VMResultsFolder.create(under: base)
    }

    private func session(vng: String, image: String, folder: String, arguments: [String],
                         accelerator: AcceleratorChoice) -> VMSession {
        let guestCommand = exec.map { ["sh", "-c", $0] }
            ?? VngCommand.guestCommand(checker: Self.executablePath(), arguments: arguments, resultsFolder: folder)
        let command = VngCommand(
            kernel: image, memory: memory, cpus: cpus, kvm: accelerator.kvm,
            qemuOptions: qemuOpts, resultsFolder: folder, writableFolders: reproducerFolder.map { [$0] } ?? [],
            guestCommand: guestCommand)
        return VMSession(vng: vng, command: command, guestArguments: arguments, folder: folder,
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

/// The async work's result, handed to the thread that waits for it.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
