"""Shared helpers of the check scripts: ok/FAILED lines, summaries, command runs.

    import sys; sys.path.insert(0, "scripts"); from checks import Checks
"""
import glob
import json
import os
import subprocess
import sys


class Checks:
    def __init__(self, name, results):
        self.name = name
        self.results = results
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        """One assertion: an `ok` or `FAILED` line, counted."""
        print(("ok     " if ok else "FAILED ") + name + (f": {detail}" if detail else ""), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def summary(self, folder):
        """The newest summary.json under results/folder (a `checker vm` run nests a timestamp folder)."""
        found = sorted(glob.glob(os.path.join(self.results, folder, "summary.json"))
                       + glob.glob(os.path.join(self.results, folder, "*", "summary.json")))
        return json.load(open(found[-1])) if found else None

    def run(self, command, log=None):
        """Runs a command; returns (status, stdout + stderr). The output is kept in `log` if given."""
        print(f"{self.name}: {' '.join(command)}", flush=True)
        finished = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if log:
            with open(os.path.join(self.results, log), "w") as file:
                file.write(finished.stdout)
        return finished.returncode, finished.stdout

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
