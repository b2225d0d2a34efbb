"""One settings object: the statistical and budget choices every part of a run reads (the suite parser, Sweep,
gap(), summary.json, `show` and the report's captions), so that a suite at 90% confidence says 90% everywhere.

A suite's [defaults] table and each [[sweeps]] table may set the sweep options (SWEEP_OPTIONS, within RANGES);
the thresholds, vector counts and exhaustive limits are fixed here and written into summary.json.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """confidence: of every interval (metrics, break-downs, gaps); min_trials, max_trials, margin, refine: the
    adaptive trials per level; target_width: the break-down interval width sought, in severity units (decades for
    bit flips, bits of SNR for additive noise; None: the noise kind's default); budget: trials per sweep unit for
    the sequential design (0 turns it off); circuit_exact_rate: a circuit breaks down when its exact-output rate
    falls below this; network_accuracy_drop: a network (or classifier) breaks down when its accuracy falls this
    much (a fraction) under its noise-free accuracy; n_vectors: random operand vectors of a circuit;
    exhaustive_bits: exhaustive operands (and stuck-at campaigns) up to this many input bits; campaign_vectors:
    random vectors of a stuck-at campaign beyond that."""

    confidence: float = 0.95
    min_trials: int = 2
    max_trials: int = 8
    margin: float = 0.01
    refine: int = 3
    target_width: float | None = None
    budget: int = 300
    circuit_exact_rate: float = 0.99
    network_accuracy_drop: float = 0.01
    n_vectors: int = 65536
    exhaustive_bits: int = 20
    campaign_vectors: int = 1 << 16

    def sweep_options(self) -> dict:
        """The options a Sweep takes from these settings."""
        return {k: getattr(self, k) for k in SWEEP_OPTIONS}


SETTINGS = Settings()  # the defaults
SWEEP_OPTIONS = {"min_trials": int, "max_trials": int, "margin": float, "refine": int, "confidence": float,
                 "target_width": float, "budget": int}  # what a suite may set: key -> TOML type
RANGES = {"min_trials": (1, 1000), "max_trials": (1, 1000), "margin": (1e-6, 0.5), "refine": (0, 20),
          "confidence": (0.5, 0.999), "target_width": (1e-3, 100), "budget": (0, 1_000_000)}


def percent(confidence: float) -> str:
    """A confidence level as every caption writes it: 0.9 -> '90%'."""
    return f"{100 * confidence:g}%"
