import Foundation
import Model
import SystemPackage
import Testing

/// The memory-attributes model: expectations per operation, the no-op/store paths, the
/// environment's supported set, and the rule inventory.
@Suite("memory attributes: model")
struct MemoryAttributesModelTests {
    static let p = KVMMemoryAttributesABI.attributePrivate
    let model = MemoryAttributesModel()

    func set(_ address: UInt64, _ size: UInt64, _ attributes: UInt64 = 0, flags: UInt64 = 0) -> MemoryAttributesOperation {
        .setAttributes(MemoryAttributesRequest(address: address, size: size, attributes: attributes, flags: flags))
    }

    /// Judges `observation` of `operation` in `state`, advancing it.
    func step(_ operation: MemoryAttributesOperation, _ observation: MemoryAttributesObservation,
              _ state: inout MemoryAttributesState, using model: MemoryAttributesModel? = nil) -> Verdict {
        let model = model ?? self.model
        return model.judge(observation, of: operation, against: model.expect(operation, in: state), state: &state)
    }

    @Test("each rejection: exactly EINVAL, named by its rule; anything else diverges")
    func rejections() {
        let cases: [(MemoryAttributesOperation, String)] = [
            (set(0, 4096, flags: 1), "kvm.memattr.flags"),
            (set(0, 4096, Self.p), "kvm.memattr.unsupported"),
            (set(0, 0), "kvm.memattr.size.zero"),
            (set(0x1000, 0 &- 0x1000), "kvm.memattr.size.wrap"),
            (set(0, 4095), "kvm.memattr.unaligned"),
        ]
        for (operation, rule) in cases {
            var state = model.initialState
            let expectation = model.expect(operation, in: state)
            #expect(expectation.branches.map(\.rule.id) == [rule], "\(operation)")
            #expect(step(operation, .failed(.invalidArgument), &state) == .agrees(rule: rule))
            var other = model.initialState
            #expect(step(operation, .success, &other).isDivergence, "\(operation) accepted")
            #expect(step(operation, .failed(.badAddress), &other).isDivergence, "\(operation) EFAULT")
        }
    }

    @Test("type 0: every valid request is a no-op success (nothing is ever stored)")
    func defaultVMNoop() {
        var state = model.initialState
        #expect(state.supported == 0 && !state.supportedObserved)
        for operation in [set(0, 4096), set(0, 1 << 62), set(0xffff_ffff_ffff_e000, 4096), set(0x20_0000, 0x20_0000)] {
            #expect(model.expect(operation, in: state).branches.map(\.rule.id) == ["kvm.memattr.ok.noop"])
            #expect(step(operation, .success, &state) == .agrees(rule: "kvm.memattr.ok.noop"))
            #expect(model.expect(operation, in: state).branches.map(\.rule.id) == ["kvm.memattr.ok.noop"])
        }
        #expect(state.attributes.runs.isEmpty)
        var failed = model.initialState
        #expect(step(set(0, 4096), .failed(.invalidArgument), &failed).isDivergence)
    }

    @Test("the VM's answer to KVM_CHECK_EXTENSION becomes the supported set, if it is a subset of the known bits")
    func capability() {
        var state = model.initialState
        #expect(step(.checkExtension(.vm), .returned(Self.p), &state) == .agrees(rule: "kvm.memattr.cap.vm"))
        #expect(state.supported == Self.p && state.supportedObserved)
        // PRIVATE is now accepted and stored; the same request again is a no-op; clearing stores.
        #expect(step(set(0, 0x2000, Self.p), .success, &state) == .agrees(rule: "kvm.memattr.ok"))
        #expect(state.attributes.attributes(of: 1) == Self.p && state.attributes.attributes(of: 2) == 0)
        #expect(step(set(0x1000, 0x1000, Self.p), .success, &state) == .agrees(rule: "kvm.memattr.ok.noop"))
        #expect(model.expect(set(0, 0x3000, Self.p), in: state).branches.first?.rule.id == "kvm.memattr.ok")
        #expect(step(set(0, 0x1000, 0), .success, &state) == .agrees(rule: "kvm.memattr.ok"))
        #expect(state.attributes.attributes(of: 0) == 0 && state.attributes.attributes(of: 1) == Self.p)
        // ENOMEM from xa_reserve is allowed and changes nothing.
        let before = state
        #expect(step(set(0, 1 << 40, Self.p), .failed(.noMemory), &state) == .agrees(rule: "kvm.memattr.reserve.enomem"))
        #expect(state == before)

        // An unknown bit, or a failure, is not an answer 6.12 can give.
        var other = model.initialState
        #expect(step(.checkExtension(.vm), .returned(1 << 4), &other).isDivergence)
        #expect(step(.checkExtension(.vm), .failed(.invalidArgument), &other).isDivergence)
        #expect(!other.supportedObserved)
        // /dev/kvm itself (kvm == NULL) advertises PRIVATE whatever the VM supports.
        #expect(step(.checkExtension(.system), .returned(Self.p), &other) == .agrees(rule: "kvm.memattr.cap.system"))
        #expect(step(.checkExtension(.system), .returned(0), &other).isDivergence)
        #expect(other.supported == 0)
    }

    @Test("the supported set assumed per VM type before anyone asks")
    func assumedSupported() {
        #expect(MemoryAttributesConfiguration(vmType: 0).assumedSupported == 0)
        #expect(MemoryAttributesConfiguration(vmType: 1).assumedSupported == Self.p)
        #expect(MemoryAttributesConfiguration(vmType: 4).assumedSupported == Self.p)
        let snp = MemoryAttributesModel(configuration: MemoryAttributesConfiguration(vmType: 4))
        var state = snp.initialState
        #expect(step(set(0, 4096, Self.p), .success, &state, using: snp) == .agrees(rule: "kvm.memattr.ok"))
    }

    @Test("a new VM forgets attributes, memslots and the observed supported set")
    func createVM() {
        var state = model.initialState
        _ = step(.checkExtension(.vm), .returned(Self.p), &state)
        _ = step(.addMemslot(0), .success, &state)
        _ = step(set(0, 4096, Self.p), .success, &state)
        #expect(step(.createVM, .returned(5), &state) == .agrees(rule: "kvm.vm.create"))
        #expect(state == model.initialState)
        #expect(step(.createVM, .failed(.invalidArgument), &state).isDivergence)
    }

    @Test("memslots: each added once; the result of set-attributes does not depend on them")
    func memslots() {
        var state = model.initialState
        #expect(model.isApplicable(.addMemslot(1), in: state))
        #expect(step(.addMemslot(1), .success, &state) == .agrees(rule: "kvm.memslot.create"))
        #expect(!model.isApplicable(.addMemslot(1), in: state))
        #expect(!model.isApplicable(.addMemslot(Memslot.layout.count), in: state))
        #expect(step(.addMemslot(0), .failed(.fileExists), &state).isDivergence)
        let inside = model.expect(set(0x20_0000, 0x1000), in: state)
        let outside = model.expect(set(0x40_0000, 0x1000), in: state)
        #expect(inside.branches == outside.branches)
        #expect(inside.note?.contains("memslots 1") == true)
        #expect(outside.note?.contains("in no memslot") == true)
    }

    @Test("the attribute map: set, overwrite, clear, coalesce, has")
    func attributeMap() {
        var map = AttributeMap()
        #expect(map.has(0, throughout: 0..<UInt64.max))
        map.set(8, over: 10..<20)
        map.set(8, over: 20..<30)
        #expect(map.runs.count == 1 && map.has(8, throughout: 10..<30) && !map.has(8, throughout: 9..<30))
        map.set(0, over: 15..<16)
        #expect(map.runs.map(\.gfns) == [10..<15, 16..<30])
        #expect(!map.has(8, throughout: 10..<30) && map.has(0, throughout: 15..<16) && !map.has(0, throughout: 14..<16))
        map.set(1, over: 0..<100)
        #expect(map.runs.map(\.gfns) == [0..<100] && map.attributes(of: 99) == 1 && map.attributes(of: 100) == 0)
        map.set(0, over: 0..<UInt64.max)
        #expect(map.runs.isEmpty)
    }

    @Test("every rule cites a line of Debian's 6.12.111 tree; ids are unique")
    func citations() {
        #expect(Set(MemoryAttributesRules.all.map(\.id)).count == MemoryAttributesRules.all.count)
        for rule in MemoryAttributesRules.all {
            guard case let .source(tree, file, line, function) = rule.source else {
                Issue.record("\(rule.id) cites no source line")
                continue
            }
            #expect(tree == "linux 6.12.111 (Debian 6.12.111-1~deb12u1)")
            #expect(file.hasSuffix(".c") && line > 0 && !function.isEmpty, "\(rule.id)")
        }
    }

    @Test("operations and observations survive a case file")
    func codable() throws {
        let operations: [MemoryAttributesOperation] = [
            .createVM, .checkExtension(.system), .checkExtension(.vm), .addMemslot(2),
            set(0xffff_ffff_ffff_f000, UInt64.max, UInt64.max, flags: 1 << 63),
        ]
        let data = try JSONEncoder().encode(operations)
        #expect(try JSONDecoder().decode([MemoryAttributesOperation].self, from: data) == operations)
        #expect(String(decoding: data, as: UTF8.self).contains("\"0xfffffffffffff000\""))
        let observations: [MemoryAttributesObservation] = [.success, .returned(8), .failed(.invalidArgument), .failed(Errno(rawValue: 25))]
        #expect(try JSONDecoder().decode([MemoryAttributesObservation].self, from: JSONEncoder().encode(observations)) == observations)
    }
}
