"""A dependency-free progress bar for long loops (reconstruction, dataset generation)."""
import sys
import time


class Progress:
    """Prints ``label [####....] i/n  key=value ...  rate`` on one line of stderr.

    On a terminal the line is redrawn in place at most every ``interval`` seconds; otherwise a
    plain line is printed every ``1/10`` of the work, so logs stay short. ``quiet`` disables it.

    Example:
        >>> bar = Progress(100, "fit")
        >>> for i in range(100):
        ...     bar.update(1, loss=0.5)
        >>> bar.close()
    """

    def __init__(self, total, label="", quiet=False, stream=None, interval=0.2, width=24):
        self.total, self.label, self.quiet = max(int(total), 1), label, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval, self.width = interval, width
        self.count, self.start, self.last, self.fields = 0, time.perf_counter(), 0.0, {}
        self._next_plain = self.total / 10

    def update(self, n=1, **fields):
        self.count += n
        self.fields.update(fields)
        if self.quiet:
            return
        now = time.perf_counter()
        if self.tty:
            if now - self.last >= self.interval or self.count >= self.total:
                self.last = now
                self.stream.write("\r" + self._line(now) + "\033[K")
                self.stream.flush()
        elif self.count >= self._next_plain or self.count >= self.total:
            self._next_plain += self.total / 10
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def _line(self, now):
        frac = min(self.count / self.total, 1.0)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = now - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        vals = "  ".join("%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
                         for k, v in self.fields.items())
        return "%s [%s] %d/%d  %s  %.1f it/s %.0fs" % (self.label, bar, self.count, self.total,
                                                       vals, rate, elapsed)

    def close(self):
        if not self.quiet and self.tty:
            self.stream.write("\n")
            self.stream.flush()
