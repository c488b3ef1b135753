/// Deletes runs of consecutive operations, largest first (half the sequence, a quarter, …, 2),
/// from the back, where the operations least related to the divergence usually are.
///
/// The runs slide one operation at a time; `aligned` runs only start at multiples of their
/// size from the back (delta debugging's partition), for systems where an execution is dear.
struct DeleteChunks: ShrinkPass {
    let name = "delete-chunks"
    var aligned = false

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
                    start -= aligned ? size : 1
                }
            }
            size /= 2
        }
        return changed
    }
}
