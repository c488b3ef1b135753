import Foundation

/// The failure store's trip through a pool of guests (``VMPool``).
///
/// The host's store goes to the first guest only (`<guest folder>/store`, as for a single VM): its
/// stored cases are run once, not once per guest (`run` replays them in shard 1 only, so N CI
/// shards do not run them N times either). The other guests start with no store, so that every
/// case in theirs afterwards is one they found.
///
/// Coming home, the first guest's store replaces the host's, as a single VM's does (it carries
/// the replay's verdicts: cases that no longer diverge moved to `fixed/`); then every other
/// guest's new cases are added to it (a case kept already, byte for byte, is not kept twice).
enum PoolStore {
    /// The folder a guest's run keeps its store in (`run` in the test VM uses `<results>/store`).
    static func folder(ofGuest guestFolder: String) -> String { guestFolder + "/store" }

    /// Copies the host's store at `home` to the first guest of a pool.
    static func carry(from home: String, toFirstGuest guestFolder: String) throws {
        try FailureStore(home).copy(to: folder(ofGuest: guestFolder))
    }

    /// Brings every guest's store home: the first's replaces `home`, the others' cases are added.
    static func bringHome(guestFolders: [String], to home: String) throws {
        guard let first = guestFolders.first else { return }
        try FailureStore(folder(ofGuest: first)).copy(to: home)
        let host = FailureStore(home)
        for guest in guestFolders.dropFirst() {
            for (target, profile, caseFile) in cases(in: FailureStore(folder(ofGuest: guest))) {
                try host.save(caseFile, target: target, profile: profile)
            }
        }
    }

    /// Every waiting case of a store (`<root>/<target>/<profile>/*.jsonl`), by target and profile.
    static func cases(in store: FailureStore) -> [(target: String, profile: String, file: String)] {
        func folders(_ url: URL) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            return names.sorted().filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isDirectory)
                    && isDirectory.boolValue
            }
        }
        return folders(store.root).flatMap { target in
            folders(store.root.appendingPathComponent(target)).flatMap { profile in
                store.cases(target: target, profile: profile).map { (target, profile, $0) }
            }
        }
    }
}
