"""Formatting shared by the word count benchmark scripts."""


def fmt_rate(x):
    """A rate in records per second, as `1.23M` or `456.78k`."""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.2f}k"
    return f"{x:.2f}"
