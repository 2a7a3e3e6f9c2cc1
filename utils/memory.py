"""How much memory this process holds: its anonymous resident memory now, and the peak while a block
runs (Linux's /proc); the out-of-core lessons and their tests measure what a fit copies with it."""
import threading


def rss_anon():
    """Anonymous resident memory of this process in bytes."""
    with open("/proc/self/status") as f:
        return 1024 * int(next(line for line in f if line.startswith("RssAnon:")).split()[1])


class PeakSampler:
    """The highest RssAnon seen while the block runs, sampled every 20 ms in a thread."""

    def __enter__(self):
        self.peak, self._stop = rss_anon(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_anon())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())
