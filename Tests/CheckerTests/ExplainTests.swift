import Testing

@Suite("checker explain")
struct ExplainTests {
    @Test("prints the sequence with the model's outcomes, the same for the same seed")
    func explain() throws {
        let first = try CheckerProcess.run(["explain", "--profile", "vsock-dgram-v5", "--seed", "7", "--ops", "30"])
        #expect(first.status == 0)
        #expect(first.stdout.hasPrefix("# checker explain --target vsock --profile vsock-dgram-v5 --seed 7 --ops 30\n"))
        let steps = first.stdout.split(separator: "\n").filter {
            $0.trimmingCharacters(in: .whitespaces).first?.isNumber == true
        }
        #expect(steps.count == 30)
        #expect(first.stdout.contains("expect "))
        #expect(first.stdout.contains("# rules cited:"))
        let again = try CheckerProcess.run(["explain", "--profile", "vsock-dgram-v5", "--seed", "7", "--ops", "30"])
        #expect(again.stdout == first.stdout)
        let other = try CheckerProcess.run(["explain", "--profile", "vsock-dgram-v5", "--seed", "8", "--ops", "30"])
        #expect(other.stdout != first.stdout)
    }

    @Test("the profiles read the same socket() differently")
    func profilesDiffer() throws {
        let mainline = try CheckerProcess.run(["rules", "--profile", "mainline"])
        let series = try CheckerProcess.run(["rules", "--profile", "vsock-dgram-v5"])
        #expect(mainline.status == 0 && series.status == 0)
        #expect(mainline.stdout.contains("vsock.create.dgram.dgram-slot"))
        #expect(!mainline.stdout.contains("vsock.dgram.sendto.no-transport"))
        #expect(series.stdout.contains("vsock.dgram.sendto.no-transport\n"))
        #expect(series.stdout.contains("vsock-dgram-v5 03 net/vmw_vsock/af_vsock.c @@ -1173,19 +1190,34 @@ vsock_dgram_sendmsg()"))
    }
}
