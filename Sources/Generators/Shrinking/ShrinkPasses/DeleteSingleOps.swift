/// Deletes one operation at a time, from the back.
struct DeleteSingleOps: ShrinkPass {
    let name = "delete-single-ops"

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        var changed = false
        var index = shrinker.target.count - 1
        while index >= 0 {
            if try shrinker.considerDeleting(index..<(index + 1)) { changed = true }
            index = min(index - 1, shrinker.target.count - 1)
        }
        return changed
    }
}
