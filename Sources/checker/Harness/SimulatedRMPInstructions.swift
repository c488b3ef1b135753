import Model

/// The RMP instructions the shims call back for (RMPUPDATE, PSMASH, the RMP read), carried out on
/// a simulated RMP and spelled the same way in every harness's evidence.
///
/// The arguments are the C side's raw ones: `pageSize` is the RMP page-size field (0 = 4K,
/// 1 = 2M; anything else is FAIL_INPUT, as the hardware answers), the results the raw codes.
enum SimulatedRMPInstructions {
    /// One RMPUPDATE on `rmp`: the hardware code and the evidence line.
    static func rmpupdate(_ rmp: inout RMPTable, pfn: UInt64, gpa: UInt64, assigned: Int32, pageSize: Int32,
                          immutable: Int32, asid: UInt32) -> (code: Int32, line: String) {
        let size: RMPPageSize? = pageSize == 0 ? .size4K : pageSize == 1 ? .size2M : nil
        let state = assigned != 0 ? "private ASID \(asid) gpa \(hexString(gpa))\(immutable != 0 ? " immutable" : "")" : "shared"
        let code: Int32
        if let size {
            code = rmp.rmpupdate(
                pfn: pfn, RMPEntry(assigned: assigned != 0, pageSize: size, immutable: immutable != 0, asid: asid, gpa: gpa)).rawValue
        } else {
            code = RMPTable.UpdateCode.failInput.rawValue
        }
        return (code, "rmpupdate(\(hexString(pfn)), \(size?.rawValue ?? "pagesize \(pageSize)"), \(state)) = \(updateCodeName(code))")
    }

    /// One PSMASH on `rmp`: the hardware code and the evidence line.
    static func psmash(_ rmp: inout RMPTable, pfn: UInt64) -> (code: Int32, line: String) {
        let code = rmp.psmash(pfn: pfn).rawValue
        return (code, "psmash(\(hexString(pfn))) = \(psmashCodeName(code))")
    }

    /// The RMP read behind `snp_lookup_rmpentry`: the pfn's own entry (its page size read from the
    /// 2M-aligned entry) and the evidence line.
    static func lookup(_ rmp: RMPTable, pfn: UInt64) -> (entry: (assigned: Bool, level: RMPPageSize), line: String) {
        let entry = rmp.lookup(pfn)
        return (entry, "lookup(\(hexString(pfn))) = \(entry.assigned ? "assigned" : "not assigned"), \(entry.level.rawValue)")
    }

    static func updateCodeName(_ code: Int32) -> String {
        switch RMPTable.UpdateCode(rawValue: code) {
        case .success: return "0"
        case .failInput: return "1 FAIL_INPUT"
        case .failPermission: return "2 FAIL_PERMISSION"
        case .failInUse: return "3 FAIL_INUSE"
        case .failOverlap: return "4 FAIL_OVERLAP"
        case nil: return "\(code)"
        }
    }

    static func psmashCodeName(_ code: Int32) -> String {
        switch RMPTable.PSMASHCode(rawValue: code) {
        case .success: return "0"
        case .failInput: return "1 FAIL_INPUT"
        case .failPermission: return "2 FAIL_PERMISSION"
        case .failInUse: return "3 FAIL_INUSE"
        case .failBadAddress: return "7 FAIL_BADADDR"
        case nil: return "\(code)"
        }
    }
}
