/// Moves each operation's arguments toward canonical values (CIDs toward 1/2/3/ANY, ports
/// toward small, lengths toward 1, flags toward 0), simplest variant first, until none holds.
struct LowerArguments: ShrinkPass {
    let name = "lower-arguments"

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        var changed = false
        var index = 0
        while index < shrinker.target.count {
            var lowered = true
            while lowered, index < shrinker.target.count {
                lowered = false
                for simpler in shrinker.domain.simplify(shrinker.target[index]) {
                    var candidate = shrinker.target
                    candidate[index] = simpler
                    if try shrinker.consider(candidate) {
                        lowered = true
                        changed = true
                        break
                    }
                }
            }
            index += 1
        }
        return changed
    }
}
