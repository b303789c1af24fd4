#!/usr/bin/env python3
"""Which system calls and socket families the daemons used, from an strace of a test run,
against the systemd units' SystemCallFilter (@system-service, not @privileged) and
RestrictAddressFamilies. docs/deployment.md has the run and its result:

  USHER_TEST_BUILD=$PWD/build-fast USHER_SANITIZE=OFF strace -f -qq -o /tmp/st.txt \\
      ./usher test -R '^(gateway_test|import_link_test|notification_delivery_test|foundation_test)$'
  python3 scripts/unit_syscalls.py /tmp/st.txt
"""
import collections
import re
import subprocess
import sys

UNIT_FAMILIES = {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}


def expand(group, cache={}):
    """The system calls of a systemd syscall group, nested groups expanded."""
    if group not in cache:
        out = set()
        listing = subprocess.run(["systemd-analyze", "syscall-filter", group],
                                 capture_output=True, text=True, check=True).stdout
        for word in listing.splitlines()[1:]:
            word = word.strip()
            if word and not word.startswith("#"):
                out |= expand(word) if word.startswith("@") else {word}
        cache[group] = out
    return cache[group]


def main(path):
    owner, pending = {}, {}  # pid -> program; pid -> program of an execve in progress
    calls = collections.defaultdict(set)
    families = collections.defaultdict(set)
    line_re = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")
    with open(path, errors="replace") as trace:
        for line in trace:
            m = line_re.match(line)
            if not m:
                continue
            pid, name = int(m.group(1)), m.group(2)
            if name == "execve":
                program = re.search(r'execve\("([^"]+)"', line)
                if program:
                    pending[pid] = program.group(1).rsplit("/", 1)[-1]
                if re.search(r"= 0\s*$", line) and pid in pending:
                    owner[pid] = pending[pid]
            if name in ("clone", "clone3", "fork", "vfork"):
                child = re.search(r"= (\d+)\s*$", line)
                if child:
                    owner[int(child.group(1))] = owner.get(pid, "?")
            program = owner.get(pid, "?")
            if not program.startswith("usher-"):
                continue
            calls[program].add(name)
            family = re.search(r"^\d+\s+socket(?:pair)?\((AF_[A-Z0-9]+)", line)
            if family:
                families[program].add(family.group(1))
    allowed, denied = expand("@system-service"), expand("@privileged")
    bad = False
    for program in sorted(calls):
        outside = sorted(calls[program] - allowed)
        privileged = sorted(calls[program] & denied)
        other_families = sorted(families[program] - UNIT_FAMILIES)
        bad = bad or bool(outside or privileged or other_families)
        print(f"{program}: {len(calls[program])} system calls; outside @system-service: "
              f"{outside or 'none'}; in @privileged: {privileged or 'none'}; families "
              f"{sorted(families[program])}, outside the unit's: {other_families or 'none'}")
    return 1 if bad or not calls else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
