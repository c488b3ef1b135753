/// `0x1f`: how addresses, pfns and gfns are written in reports, case descriptions and evidence.
public func hexString(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
