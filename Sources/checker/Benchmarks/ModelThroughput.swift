import Generators
import Model

/// How fast a model judges: recorded (operation, observation) traces replayed through `expect`
/// and `judge` for a while, on one core. Shared by `bench` (vsock) and `bench --target snp`.
struct ModelThroughput<Model: ReferenceModel> {
    let model: Model
    let traces: [[(Model.Operation, Model.Observation)]]

    struct Measured {
        let steps: Int
        let divergences: Int
        let seconds: Double
        var rate: Double { Double(steps) / seconds }
    }

    /// A trace as two parallel arrays.
    private struct Recorded {
        let operations: [Model.Operation]
        let observations: [Model.Observation]
    }

    func measure(seconds: Double) -> Measured {
        let recorded = traces.map { Recorded(operations: $0.map(\.0), observations: $0.map(\.1)) }
        let clock = ContinuousClock()
        let start = clock.now
        var steps = 0
        var divergences = 0
        while clock.now - start < .seconds(seconds) {
            for trace in recorded {
                var state = model.initialState
                // By index into arrays: the judge borrows each recorded observation, as the live
                // path hands over the one it just made, instead of copying it.
                for step in trace.operations.indices {
                    let expectation = model.expect(trace.operations[step], in: state)
                    if model.judge(trace.observations[step], of: trace.operations[step], against: expectation,
                                   state: &state).isDivergence {
                        divergences += 1
                    }
                }
                steps += trace.operations.count
            }
        }
        return Measured(steps: steps, divergences: divergences, seconds: (clock.now - start) / .seconds(1))
    }
}
