"""Real load from wrk while a test acts on the server, and its tally of failures."""
import re
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class Tally:
    requests: int
    non_2xx: int
    socket_errors: int
    output: str
    read_errors: int = 0

    @property
    def failed(self):
        return self.non_2xx + self.socket_errors


class Load:
    """`wrk` against `url` for `seconds`, in the background; `result()` waits and parses."""

    def __init__(self, url, seconds=6, connections=64, threads=2):
        assert shutil.which("wrk"), "wrk is installed by scripts/setup.sh"
        self.proc = subprocess.Popen(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self, timeout=120):
        out, _ = self.proc.communicate(timeout=timeout)
        m = re.search(r"(\d+) requests in", out)
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        return Tally(
            requests=int(m.group(1)) if m else 0,
            non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
            socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
            output=out,
            read_errors=int(errors.group(2)) + int(errors.group(3)) if errors else 0,
        )
