"""A progress bar of the inputs of one pass over a test set (a network's noise-free pass, one trial), for long
work such as a ResNet-20 over thousands of images: inputs done of the pass's total, rate and time left.

It follows the runner's trial counter (testbed.runner.Progress): tqdm on stderr, drawn only on a terminal unless
forced; it leaves no line behind (the trial counter keeps the record).
"""

from __future__ import annotations

from tqdm import tqdm

from testbed.escape import terminal_text


class InputBar:
    """Called as on_batch(done, total) after each batch of a pass; a pass ends when done reaches total (the next
    call starts a new bar). show: None draws it on a terminal only, True always, False never."""

    def __init__(self, desc: str, show: bool | None = None):
        self.desc, self.show, self.bar = terminal_text(desc, False), show, None

    def __call__(self, done: int, total: int) -> None:
        if self.show is False:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit="input", leave=False, smoothing=0.3, mininterval=0,
                            disable=None if self.show is None else False,
                            bar_format="{desc}: {n_fmt} of {total_fmt} inputs |{bar}| [{elapsed}<{remaining}, "
                                       "{rate_fmt}]")
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()
            self.bar = None
