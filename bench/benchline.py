"""The one line each benchmark prints per measure, so all of `make bench` reads the same way.

    bench: <measure> = <value> (target <op> <target>) PASS|MISS

The scripts beside it run as modules from the tree's root (`python -m bench.bench_arrays`), and
import it as `bench.benchline`.
"""
import operator

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def bench_line(measure, value, op, target, fmt="{}", target_fmt="{}", note=""):
    """Print and return one `bench:` line; a missing value (None) reads n/a and is a MISS."""
    passed = value is not None and OPS[op](value, target)
    shown = "n/a" if value is None else fmt.format(value)
    line = (f"bench: {measure} = {shown} (target {op} {target_fmt.format(target)}) "
            f"{'PASS' if passed else 'MISS'}")
    line += f" {note}" if note else ""
    print(line)
    return line
