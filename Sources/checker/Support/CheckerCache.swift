import Foundation

/// Where the checker keeps what it fetches and builds: test kernels, Debian source packages,
/// module builds, harness builds, the failure store, virtme-ng's virtual environment.
enum CheckerCache {
    /// `$XDG_CACHE_HOME/checker`, else `~/.cache/checker`.
    static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/checker" }
        return (environment["HOME"] ?? "/root") + "/.cache/checker"
    }
}
