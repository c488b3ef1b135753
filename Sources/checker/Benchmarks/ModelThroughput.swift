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

    func measure(seconds: Double) -> Measured {
        let clock = ContinuousClock()
        let start = clock.now
        var steps = 0
        var divergences = 0
        while clock.now - start < .seconds(seconds) {
            for trace in traces {
                var state = model.initialState
                for (operation, observation) in trace {
                    let expectation = model.expect(operation, in: state)
                    if model.judge(observation, of: operation, against: expectation, state: &state).isDivergence {
                        divergences += 1
                    }
                }
                steps += trace.count
            }
        }
        return Measured(steps: steps, divergences: divergences, seconds: (clock.now - start) / .seconds(1))
    }
}
