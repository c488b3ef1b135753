/// The arguments of one `KVM_SET_MEMORY_ATTRIBUTES` call: `struct kvm_memory_attributes`.
public struct MemoryAttributesRequest: Hashable, Sendable, CustomStringConvertible {
    public var address: UInt64
    public var size: UInt64
    public var attributes: UInt64
    public var flags: UInt64

    public init(address: UInt64, size: UInt64, attributes: UInt64 = 0, flags: UInt64 = 0) {
        self.address = address
        self.size = size
        self.attributes = attributes
        self.flags = flags
    }

    /// The first validation check this request fails for a VM supporting `supported`.
    public func rejection(supported: UInt64) -> MemoryAttributesRejection? {
        MemoryAttributesValidation.check(address: address, size: size, attributes: attributes, flags: flags,
                                         supportedAttributes: supported)
    }

    public var description: String {
        "{address=\(hexString(address)) size=\(hexString(size)) attributes=\(hexString(attributes)) flags=\(hexString(flags))}"
    }
}

/// Where `KVM_CHECK_EXTENSION` is asked: on `/dev/kvm` (no VM: `kvm == NULL`) or on the VM fd.
public enum CapabilityScope: String, CaseIterable, Hashable, Sendable, Codable {
    case system
    case vm
}

/// A memslot the runs may add: a fixed layout, so slots never overlap and a range can fall
/// inside one, across two adjacent ones, or outside every one.
public struct Memslot: Hashable, Sendable, CustomStringConvertible {
    public let slot: UInt32
    public let guestPhysicalAddress: UInt64
    public let size: UInt64

    public init(slot: UInt32, guestPhysicalAddress: UInt64, size: UInt64) {
        self.slot = slot
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
    }

    /// The gfns the slot covers.
    public var gfns: Range<UInt64> {
        (guestPhysicalAddress >> MemoryAttributesValidation.pageShift)
            ..< ((guestPhysicalAddress + size) >> MemoryAttributesValidation.pageShift)
    }

    /// Slot 0 at 0 and slot 1 at 2 MiB (adjacent: a 2 MiB boundary between them), slot 2 at
    /// 4 GiB; 2 MiB each, backed by anonymous memory. All below any x86 guest's MAXPHYADDR.
    public static let layout: [Memslot] = [
        Memslot(slot: 0, guestPhysicalAddress: 0, size: 0x20_0000),
        Memslot(slot: 1, guestPhysicalAddress: 0x20_0000, size: 0x20_0000),
        Memslot(slot: 2, guestPhysicalAddress: 0x1_0000_0000, size: 0x20_0000),
    ]

    public var description: String {
        "slot \(slot) [\(hexString(guestPhysicalAddress)), \(hexString(guestPhysicalAddress + size)))"
    }
}

/// One operation of a memory-attributes test case. Each is one ioctl.
public enum MemoryAttributesOperation: KindedOperation {
    /// Closes the VM and `KVM_CREATE_VM`s a new one of the configured type (the run starts with one).
    case createVM
    /// `KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES)`.
    case checkExtension(CapabilityScope)
    /// `KVM_SET_USER_MEMORY_REGION` of `Memslot.layout[index]`.
    case addMemslot(Int)
    /// `KVM_SET_MEMORY_ATTRIBUTES` on the VM fd.
    case setAttributes(MemoryAttributesRequest)

    public var kind: MemoryAttributesOperationKind {
        switch self {
        case .createVM: return .createVM
        case .checkExtension: return .checkExtension
        case .addMemslot: return .addMemslot
        case .setAttributes: return .setAttributes
        }
    }

    public var kindName: String { kind.rawValue }

    public var description: String {
        switch self {
        case .createVM: return "KVM_CREATE_VM(0)"
        case let .checkExtension(scope):
            return "KVM_CHECK_EXTENSION(\(scope == .system ? "/dev/kvm" : "vm"), KVM_CAP_MEMORY_ATTRIBUTES)"
        case let .addMemslot(index):
            let slot = Memslot.layout.indices.contains(index) ? Memslot.layout[index].description : "slot #\(index)"
            return "KVM_SET_USER_MEMORY_REGION(\(slot))"
        case let .setAttributes(request): return "KVM_SET_MEMORY_ATTRIBUTES\(request)"
        }
    }
}

/// The kinds of memory-attributes operations.
public enum MemoryAttributesOperationKind: String, CaseIterable, Hashable, Sendable, Codable {
    case createVM = "create-vm"
    case checkExtension = "check-extension"
    case addMemslot = "add-memslot"
    case setAttributes = "set-attributes"
}

/// Case files hold one operation per line, 64-bit values as hex strings (JSON numbers lose
/// precision above 2^53 in most readers):
/// `{"op":"set-attributes","address":"0x1000","size":"0xfffffffffffff000","attributes":"0x0","flags":"0x0"}`.
extension MemoryAttributesOperation {
    private enum CodingKeys: String, CodingKey { case op, scope, memslot, address, size, attributes, flags }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .op)
        guard let kind = MemoryAttributesOperationKind(rawValue: name) else {
            throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription:
                "unknown operation \"\(name)\" (expected one of \(MemoryAttributesOperationKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func value(_ key: CodingKeys) throws -> UInt64 {
            if let number = try? container.decode(UInt64.self, forKey: key) { return number }
            let text = try container.decode(String.self, forKey: key)
            let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let parsed else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container,
                                                       debugDescription: "not a 64-bit value: \"\(text)\"")
            }
            return parsed
        }
        switch kind {
        case .createVM: self = .createVM
        case .checkExtension:
            let text = try container.decode(String.self, forKey: .scope)
            guard let scope = CapabilityScope(rawValue: text) else {
                throw DecodingError.dataCorruptedError(forKey: .scope, in: container,
                                                       debugDescription: "unknown scope \"\(text)\" (system or vm)")
            }
            self = .checkExtension(scope)
        case .addMemslot: self = .addMemslot(try container.decode(Int.self, forKey: .memslot))
        case .setAttributes:
            self = .setAttributes(MemoryAttributesRequest(address: try value(.address), size: try value(.size),
                                                          attributes: try value(.attributes), flags: try value(.flags)))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .op)
        switch self {
        case .createVM: break
        case let .checkExtension(scope): try container.encode(scope.rawValue, forKey: .scope)
        case let .addMemslot(index): try container.encode(index, forKey: .memslot)
        case let .setAttributes(request):
            try container.encode(hexString(request.address), forKey: .address)
            try container.encode(hexString(request.size), forKey: .size)
            try container.encode(hexString(request.attributes), forKey: .attributes)
            try container.encode(hexString(request.flags), forKey: .flags)
        }
    }
}
