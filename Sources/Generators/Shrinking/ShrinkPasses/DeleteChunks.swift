/// Deletes runs of consecutive operations, largest first (half the sequence, a quarter, …, 2),
/// from the back, where the operations least related to the divergence usually are.
struct DeleteChunks: ShrinkPass {
    let name = "delete-chunks"

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        var changed = false
        var size = shrinker.target.count / 2
        while size >= 2 {
            var start = shrinker.target.count - size
            while start >= 0 {
                if try shrinker.considerDeleting(start..<min(start + size, shrinker.target.count)) {
                    changed = true
                    start = min(start, shrinker.target.count - size)
                } else {
                    start -= 1
                }
            }
            size /= 2
        }
        return changed
    }
}
