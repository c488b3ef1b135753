/// The systems `checker run` hunts on, each able to show its evidence.
extension LiveVsockSystem: EvidencedSystem {}
extension LiveMemoryAttributesSystem: EvidencedSystem {}
