import SystemPackage

/// The `KVM_SET_MEMORY_ATTRIBUTES` model, as Debian's 6.12.111 implements the ioctl.
///
/// It states the validation front (``MemoryAttributesValidation``, in the kernel's order), the
/// all-or-nothing store and the no-op short-circuit. The VM's supported attribute set is the
/// environment's: assumed from the source for the VM type until the run asks the kernel
/// (`KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES)` on the VM), then the kernel's answer, checked
/// only to be a subset of the attribute bits 6.12 knows. Memslots are part of the state because
/// they decide which MMU hooks a store runs, never the ioctl's result (no memslot requirement).
///
/// Observable: the ioctl's return and errno, nothing else. A no-op and a store both return 0;
/// the per-gfn attributes are the model's alone (6.12 has no GET ioctl).
public struct MemoryAttributesModel: ReferenceModel {
    public typealias State = MemoryAttributesState
    public typealias Operation = MemoryAttributesOperation
    public typealias Observation = MemoryAttributesObservation
    public typealias Expectation = MemoryAttributesExpectation

    public let configuration: MemoryAttributesConfiguration

    public init(configuration: MemoryAttributesConfiguration = MemoryAttributesConfiguration()) {
        self.configuration = configuration
    }

    public var initialState: MemoryAttributesState { MemoryAttributesState(supported: configuration.assumedSupported) }

    public func isApplicable(_ operation: MemoryAttributesOperation, in state: MemoryAttributesState) -> Bool {
        guard case let .addMemslot(index) = operation else { return true }
        guard Memslot.layout.indices.contains(index) else { return false }
        return !state.memslots.contains(Memslot.layout[index])
    }

    public func expect(_ operation: MemoryAttributesOperation, in state: MemoryAttributesState) -> MemoryAttributesExpectation {
        switch operation {
        case .createVM:
            return MemoryAttributesExpectation([MemoryAttributesBranch(.nonNegative, effect: .freshVM,
                                                                       rule: MemoryAttributesRules.createVM)])
        case .checkExtension(.system):
            return MemoryAttributesExpectation([MemoryAttributesBranch(
                .exactly(.returned(KVMMemoryAttributesABI.attributePrivate)), rule: MemoryAttributesRules.capabilitySystem)])
        case .checkExtension(.vm):
            return MemoryAttributesExpectation([MemoryAttributesBranch(
                .subset(of: KVMMemoryAttributesABI.knownAttributes), effect: .adoptSupported,
                rule: MemoryAttributesRules.capabilityVM)])
        case let .addMemslot(index):
            let slot = Memslot.layout[index]
            return MemoryAttributesExpectation([MemoryAttributesBranch(.exactly(.success), effect: .addMemslot(slot),
                                                                       rule: MemoryAttributesRules.memslotCreate)])
        case let .setAttributes(request):
            return setAttributes(request, in: state)
        }
    }

    /// `kvm_vm_ioctl_set_mem_attributes()` then `kvm_vm_set_mem_attributes()`.
    func setAttributes(_ request: MemoryAttributesRequest, in state: MemoryAttributesState) -> MemoryAttributesExpectation {
        if let rejection = request.rejection(supported: state.supported) {
            return MemoryAttributesExpectation([MemoryAttributesBranch(.exactly(.failed(rejection.errno)),
                                                                       rule: rejection.rule)],
                                               note: state.supportedObserved ? nil : "supported \(hexString(state.supported)) assumed [\(configuration.assumption.id)]")
        }
        let gfns = MemoryAttributesValidation.gfnRange(address: request.address, size: request.size)
        let slots = state.memslots(overlapping: gfns)
        let note = "gfns [\(hexString(gfns.lowerBound)), \(hexString(gfns.upperBound))), "
            + (slots.isEmpty ? "in no memslot" : "memslots \(slots.map { "\($0.slot)" }.joined(separator: ","))")
        if state.attributes.has(request.attributes, throughout: gfns) {
            return MemoryAttributesExpectation([MemoryAttributesBranch(.exactly(.success), rule: MemoryAttributesRules.noop)],
                                               note: note)
        }
        return MemoryAttributesExpectation([
            MemoryAttributesBranch(.exactly(.success), effect: .set(request.attributes, gfns: gfns),
                                   rule: MemoryAttributesRules.stored),
            MemoryAttributesBranch(.exactly(.failed(.noMemory)), rule: MemoryAttributesRules.reserveFailed),
        ], note: note)
    }

    public func judge(_ observation: MemoryAttributesObservation, of operation: MemoryAttributesOperation,
                      against expectation: MemoryAttributesExpectation, state: inout MemoryAttributesState) -> Verdict {
        guard let branch = expectation.branches.first(where: { $0.result.admits(observation) }) else {
            let allowed = expectation.branches.map(\.description).joined(separator: " | ")
            return .diverges(Mismatch(kind: .result, detail:
                "expected \(allowed)\(expectation.note.map { " (\($0))" } ?? ""); observed \(observation)"))
        }
        apply(branch.effect, observed: observation, to: &state)
        return .agrees(rule: branch.rule.id)
    }

    func apply(_ effect: MemoryAttributesEffect, observed: MemoryAttributesObservation, to state: inout MemoryAttributesState) {
        switch effect {
        case .none: break
        case .freshVM: state = initialState
        case .adoptSupported:
            if case let .returned(value) = observed {
                state.supported = value
                state.supportedObserved = true
            }
        case let .addMemslot(slot): state.memslots.append(slot)
        case let .set(attributes, gfns): state.attributes.set(attributes, over: gfns)
        }
    }

    public func nominalObservation(of operation: MemoryAttributesOperation, for expectation: MemoryAttributesExpectation,
                                   in state: MemoryAttributesState) -> MemoryAttributesObservation {
        switch expectation.branches[0].result {
        case let .exactly(observation): return observation
        case .nonNegative: return .returned(4)
        case let .subset(mask): return .returned(configuration.assumedSupported & mask)
        }
    }
}
