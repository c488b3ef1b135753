/// Which VM the model stands for, and what the source says it supports before anyone asks.
public struct MemoryAttributesConfiguration: Hashable, Sendable {
    /// The `KVM_CREATE_VM` type (`KVM_X86_DEFAULT_VM` = 0 in the test VM: no SNP hardware, no
    /// `CONFIG_KVM_SW_PROTECTED_VM` in Debian's 6.12).
    public var vmType: UInt64
    /// `kvm_supported_mem_attributes(kvm)` for a VM of that type, from the source; the run
    /// replaces it with the kernel's answer as soon as it asks (`checkExtension(.vm)`).
    public var assumedSupported: UInt64
    /// Where `assumedSupported` comes from.
    public var assumption: Rule

    /// The source's answer for `vmType` on x86: `has_private_mem` is set for
    /// `KVM_X86_SW_PROTECTED_VM` (x86.c:12819) and `KVM_X86_SNP_VM` (svm.c:5146), for no other.
    public init(vmType: UInt64 = KVMMemoryAttributesABI.defaultVMType) {
        self.vmType = vmType
        switch vmType {
        case 1:
            assumedSupported = KVMMemoryAttributesABI.attributePrivate
            assumption = MemoryAttributesRules.swProtectedVMHasPrivateMemory
        case KVMMemoryAttributesABI.snpVMType:
            assumedSupported = KVMMemoryAttributesABI.attributePrivate
            assumption = MemoryAttributesRules.snpVMHasPrivateMemory
        default:
            assumedSupported = 0
            assumption = MemoryAttributesRules.defaultVMHasNoPrivateMemory
        }
    }

    /// An explicit supported set (a simulated VM that supports PRIVATE, to reach the store path).
    public init(vmType: UInt64, assumedSupported: UInt64, assumption: Rule) {
        self.vmType = vmType
        self.assumedSupported = assumedSupported
        self.assumption = assumption
    }
}

/// The model's state: one VM, as little as the ioctl's behaviour depends on.
public struct MemoryAttributesState: Hashable, Sendable, CustomStringConvertible {
    /// The VM's supported attribute set: assumed from the source until the kernel is asked.
    public var supported: UInt64
    /// Whether `supported` is the kernel's answer (`KVM_CHECK_EXTENSION` on the VM) or assumed.
    public var supportedObserved = false
    /// The memslots added, in order.
    public var memslots: [Memslot] = []
    /// Every gfn's attributes. Never observed on 6.12 (no GET ioctl): it decides the no-op path.
    public var attributes = AttributeMap()

    public init(supported: UInt64) { self.supported = supported }

    /// The memslots a gfn range overlaps (those whose MMU hooks a store would run).
    public func memslots(overlapping gfns: Range<UInt64>) -> [Memslot] {
        memslots.filter { $0.gfns.overlaps(gfns) }
    }

    public var description: String {
        "supported=\(hexString(supported))\(supportedObserved ? "" : " (assumed)") memslots=[\(memslots.map { "\($0.slot)" }.joined(separator: ","))] attributes: \(attributes)"
    }
}

/// A change to the state, applied when the kernel took a branch.
public enum MemoryAttributesEffect: Hashable, Sendable {
    case none
    /// A new VM: nothing added, nothing set, the supported set assumed again.
    case freshVM
    /// The kernel's answer to `KVM_CHECK_EXTENSION` on the VM becomes the supported set.
    case adoptSupported
    case addMemslot(Memslot)
    case set(UInt64, gfns: Range<UInt64>)
}

/// What a branch allows the ioctl to return.
public enum AllowedResult: Hashable, Sendable, CustomStringConvertible {
    case exactly(MemoryAttributesObservation)
    /// Any non-negative value (a file descriptor).
    case nonNegative
    /// A non-negative value with no bit outside `mask`.
    case subset(of: UInt64)

    public func admits(_ observation: MemoryAttributesObservation) -> Bool {
        switch self {
        case let .exactly(expected): return observation == expected
        case .nonNegative: if case .returned = observation { return true } else { return false }
        case let .subset(mask): if case let .returned(value) = observation { return value & ~mask == 0 } else { return false }
        }
    }

    public var description: String {
        switch self {
        case let .exactly(observation): return observation.description
        case .nonNegative: return "fd≥0"
        case let .subset(mask): return "a subset of \(hexString(mask))"
        }
    }
}

/// One allowed outcome.
public struct MemoryAttributesBranch: Hashable, Sendable, CustomStringConvertible {
    public var result: AllowedResult
    public var effect: MemoryAttributesEffect
    public var rule: Rule

    public init(_ result: AllowedResult, effect: MemoryAttributesEffect = .none, rule: Rule) {
        self.result = result
        self.effect = effect
        self.rule = rule
    }

    public var description: String { "\(result)  [\(rule.id)]" }
}

/// The outcomes the model allows for one operation.
public struct MemoryAttributesExpectation: Hashable, Sendable, CustomStringConvertible {
    public var branches: [MemoryAttributesBranch]
    /// Context for a reader: the gfn range and the memslots it touches.
    public var note: String?

    public init(_ branches: [MemoryAttributesBranch], note: String? = nil) {
        self.branches = branches
        self.note = note
    }

    /// The branch of `rule`, if the expectation has one.
    public func branch(_ ruleID: String) -> MemoryAttributesBranch? { branches.first { $0.rule.id == ruleID } }

    public var description: String {
        branches.map(\.description).joined(separator: "\n  or ") + (note.map { " (\($0))" } ?? "")
    }
}
