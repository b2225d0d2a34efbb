"""Error metrics of an arithmetic circuit against exact results (approximate-computing conventions).

EP = P(y' != y); MAE = E|y' - y|; WCE = max |y' - y|; MRED = E[|y' - y| / max(1, |y|)]; MSE = E(y' - y)^2;
MAE% and WCE% relative to 2^width; BER per output bit (bit 0 first); output SNR in bits
0.5*log2(E[y^2] / E[(y' - y)^2]) (infinite when exact). Accumulates over chunks (ErrorStats.update).
"""

from __future__ import annotations

import math

import numpy as np


class ErrorStats:
    """Streaming accumulator of the error metrics of `width`-bit outputs."""

    def __init__(self, width: int):
        self.width = width
        self.n = 0
        self.wrong = 0
        self.abs_sum = 0.0
        self.sq_sum = 0.0
        self.rel_sum = 0.0
        self.signal_sq = 0.0
        self.worst = 0
        self.bit_errors = np.zeros(width, dtype=np.int64)

    def update(self, approx, exact) -> ErrorStats:
        approx = np.asarray(approx, dtype=np.int64)
        exact = np.asarray(exact, dtype=np.int64)
        err = approx - exact
        abs_err = np.abs(err).astype(np.float64)
        self.n += len(err)
        self.wrong += int(np.count_nonzero(err))
        self.abs_sum += float(abs_err.sum())
        self.sq_sum += float((abs_err ** 2).sum())
        self.rel_sum += float((abs_err / np.maximum(1, np.abs(exact))).sum())
        self.signal_sq += float((exact.astype(np.float64) ** 2).sum())
        if len(err):
            self.worst = max(self.worst, int(np.abs(err).max()))
        diff = (approx ^ exact).astype(np.uint64)
        for k in range(self.width):
            self.bit_errors[k] += int(np.count_nonzero((diff >> np.uint64(k)) & np.uint64(1)))
        return self

    def result(self) -> dict:
        """The metrics as a dict (ber is a list over output bits, bit 0 first)."""
        n = max(self.n, 1)
        mse = self.sq_sum / n
        return {
            "n": self.n, "ep": self.wrong / n, "mae": self.abs_sum / n, "wce": self.worst,
            "mred": self.rel_sum / n, "mse": mse,
            "mae_percent": 100 * self.abs_sum / n / 2 ** self.width, "wce_percent": 100 * self.worst / 2 ** self.width,
            "ber": (self.bit_errors / n).tolist(), "snr_bits": snr_bits(self.signal_sq / n, mse),
        }


def snr_bits(signal_power: float, error_power: float) -> float:
    """0.5*log2(signal power / error power): SNR in bits (1 bit = 6.02 dB); inf without error."""
    if error_power <= 0:
        return math.inf
    if signal_power <= 0:
        return -math.inf
    return 0.5 * math.log2(signal_power / error_power)


def error_metrics(approx, exact, width: int) -> dict:
    """All metrics of one vector set at once."""
    return ErrorStats(width).update(approx, exact).result()
