"""What /proc says of a process (ukd under test): its open fds and its RSS."""
import os


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0
