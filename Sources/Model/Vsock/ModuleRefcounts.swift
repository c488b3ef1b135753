/// `/sys/module/<m>/refcnt` of every loaded transport module: a count per module, nil when the
/// module is not loaded.
///
/// A fixed table rather than a dictionary: it is compared on every step, and must cost nothing
/// to build or compare. In case files it is a JSON object keyed by module name.
public struct ModuleRefcounts: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    // One stored count per module (Int.min: not loaded), so building and comparing allocate nothing.
    private static let absent = Int.min
    private var loopback = absent, virtio = absent, vhost = absent, vmci = absent, hyperv = absent

    public init() {}

    public init(dictionaryLiteral elements: (TransportModule, Int)...) {
        for (module, count) in elements { self[module] = count }
    }

    public init(_ dictionary: [TransportModule: Int]) {
        for (module, count) in dictionary { self[module] = count }
    }

    private subscript(raw module: TransportModule) -> Int {
        get {
            switch module {
            case .loopback: return loopback
            case .virtio: return virtio
            case .vhost: return vhost
            case .vmci: return vmci
            case .hyperv: return hyperv
            }
        }
        set {
            switch module {
            case .loopback: loopback = newValue
            case .virtio: virtio = newValue
            case .vhost: vhost = newValue
            case .vmci: vmci = newValue
            case .hyperv: hyperv = newValue
            }
        }
    }

    public subscript(module: TransportModule) -> Int? {
        get { self[raw: module] == Self.absent ? nil : self[raw: module] }
        set { self[raw: module] = newValue ?? Self.absent }
    }

    public subscript(module: TransportModule, default value: Int) -> Int {
        get { self[module] ?? value }
        set { self[module] = newValue }
    }

    /// How many modules are listed (loaded).
    public var count: Int { TransportModule.allCases.reduce(0) { $0 + (self[$1] == nil ? 0 : 1) } }
    public var isEmpty: Bool { count == 0 }

    public func makeIterator() -> some IteratorProtocol<(module: TransportModule, count: Int)> {
        TransportModule.allCases.lazy.compactMap { module in self[module].map { (module, $0) } }.makeIterator()
    }

    /// The dictionary form, for encoding.
    public var dictionary: [TransportModule: Int] {
        Dictionary(uniqueKeysWithValues: map { ($0.module, $0.count) })
    }

    public var description: String {
        "{" + map { "\($0.module.shortName)=\($0.count)" }.joined(separator: " ") + "}"
    }
}

extension ModuleRefcounts: Codable {
    public init(from decoder: Decoder) throws {
        self.init(try [TransportModule: Int](from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        try dictionary.encode(to: encoder)
    }
}
