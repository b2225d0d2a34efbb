"""Data sets that work offline: scikit-learn's digits (also restricted to its first k classes) and a generated
1-D signal task.

Inputs are float32 in [0, 1] (the integer engine reads them as unsigned 8-bit activations), labels int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from networks.errors import NetworkError


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    shape: tuple  # one input's shape: (features,) or (channels, length)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.shape))


def digits() -> Dataset:
    """scikit-learn's 8x8 digits scaled to [0, 1] (pixel / 16); split train_test_split(test_size=0.3,
    random_state=0): 1,257 train and 540 test images, 10 classes."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0)
    return Dataset("digits", x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), 10, (64,))


def signals(n_train: int = 4000, n_test: int = 1000, length: int = 40, seed: int = 0) -> Dataset:
    """A generated 1-D classification task in the spirit of MNIST-1D: 10 fixed 12-sample templates, each
    example one template scaled (0.6-1.4), shifted (anywhere in `length`), blurred, plus Gaussian and
    correlated noise, mapped to [0, 1]. Deterministic for a given seed; shape (1, length)."""
    if length < 16:
        raise NetworkError(f"signals: length must be >= 16, got {length}")
    templates = np.random.default_rng(12345).normal(0, 1, (10, 12)).cumsum(axis=1)
    templates -= templates.mean(axis=1, keepdims=True)
    templates /= np.abs(templates).max(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.integers(0, 10, n)
    x = np.zeros((n, length))
    shift = rng.integers(0, length - 12 + 1, n)
    scale = rng.uniform(0.6, 1.4, n)
    for k in range(n):
        x[k, shift[k]:shift[k] + 12] = scale[k] * templates[y[k]]
    kernel = np.array([0.25, 0.5, 0.25])
    x = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, x)
    x += rng.normal(0, 0.1, x.shape) + np.cumsum(rng.normal(0, 0.02, x.shape), axis=1)
    x = np.clip((x + 1.5) / 3.0, 0, 1).astype(np.float32)[:, None, :]
    return Dataset("signals", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 10, (1, length))


MAX_NPZ_BYTES = 1 << 30  # the most an .npz may hold uncompressed (1 GiB): a test set, not a training corpus


def npz_arrays(path) -> list[str] | None:
    """The names of the arrays in an .npz file, from its zip directory alone; None when it is not a readable zip
    (the loader then says what is wrong)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return [name.removesuffix(".npy") for name in zf.namelist()]
    except Exception:  # a damaged or hostile zip raises many kinds (BadZipFile, NotImplementedError, ...)
        return None


def check_npz(path) -> None:
    """NetworkError unless `path` is a regular file whose arrays, read from their .npy headers only, are of
    numeric dtypes and hold together at most MAX_NPZ_BYTES, each exactly as large as its header says (a zip bomb
    or a truncated member is refused before anything is decompressed)."""
    import zipfile

    from numpy.lib import format as fmt

    if not path.is_file():
        raise NetworkError(f"data file {path}: not a regular file")
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                with zf.open(info) as fh:
                    read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
                    shape, _, dtype = read[fmt.read_magic(fh)](fh)
                    header = fh.tell()
                if dtype.hasobject or dtype.kind not in "biuf":
                    raise NetworkError(f"data file {path}: {key} has dtype {dtype}; only numeric arrays are read "
                                       "(without pickles)")
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                total += nbytes
                if total > MAX_NPZ_BYTES:
                    raise NetworkError(f"data file {path}: {key} declares shape {shape} of {dtype} ({nbytes} bytes); "
                                       f"the arrays may hold {MAX_NPZ_BYTES} bytes at most")
                if info.file_size != header + nbytes:
                    raise NetworkError(f"data file {path}: {key} holds {info.file_size - header} bytes of data, its "
                                       f"header declares {nbytes}")
    except NetworkError:
        raise
    except Exception as exc:  # not a zip, a member that is no .npy, a malformed header
        raise NetworkError(f"data file {path}: not a readable .npz without pickles ({type(exc).__name__})") from None


def _images(arr: np.ndarray) -> np.ndarray:
    """Image arrays as the models take them: 8-bit pixels (uint8) as value / 255, and channels-last images
    (N, H, W, C) with C in 1 or 3 and H, W >= 8 (CIFAR-10 as Keras and most files hold it) moved to torch's
    (N, C, H, W); anything else unchanged."""
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255
    if arr.ndim == 4 and arr.shape[3] in (1, 3) and arr.shape[1] not in (1, 3) and min(arr.shape[1:3]) >= 8:
        arr = np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    return arr


def from_npz(path, name: str | None = None) -> Dataset:
    """A test set from an .npz file (read without pickles): x_test (N, *shape) floats in [0, 1] (or uint8
    pixels, read as value / 255; channels-last images are moved first, see _images), y_test (N,) or (N, 1)
    integer labels >= 0, optional x_calib (M, *shape) calibration inputs like x_test. The Dataset's x_train holds
    the calibration inputs (x_calib, else x_test) and y_train is empty: the file trains nothing."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise NetworkError(f"data file {path}: no such file")
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # not a zip, truncated, or object arrays that need pickles
        raise NetworkError(f"data file {path}: not a readable .npz without pickles ({type(exc).__name__})") from None
    missing = [k for k in ("x_test", "y_test") if k not in arrays]
    if missing:
        raise NetworkError(f"data file {path}: missing {', '.join(missing)} (it has {', '.join(arrays) or 'nothing'})")
    x, y = _images(arrays["x_test"]), arrays["y_test"]
    calib = _images(arrays["x_calib"]) if "x_calib" in arrays else x
    if y.ndim == 2 and y.shape[1:] == (1,):  # a column of labels, as Keras' CIFAR-10 has it
        y = y[:, 0]
    for key, arr in (("x_test", x), ("x_calib", calib)):
        if arr.dtype.kind not in "fiu" or arr.ndim < 2 or len(arr) == 0:
            raise NetworkError(f"data file {path}: {key} must be a non-empty numeric array (N, *shape), "
                               f"got {arr.dtype} {arr.shape}")
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise NetworkError(f"data file {path}: {key} must hold finite values in [0, 1]")
    if calib.shape[1:] != x.shape[1:]:
        raise NetworkError(f"data file {path}: x_calib inputs {calib.shape[1:]} differ from x_test's {x.shape[1:]}")
    if y.dtype.kind not in "iu" or y.shape != (len(x),) or y.min() < 0:
        raise NetworkError(f"data file {path}: y_test must be {len(x)} integer labels >= 0, got {y.dtype} {y.shape}")
    return Dataset(name or path.stem, calib.astype(np.float32), np.zeros(0, np.int64), x.astype(np.float32),
                   y.astype(np.int64), int(y.max()) + 1, tuple(x.shape[1:]))


def digits_classes(k: int) -> Dataset:
    """The digits 0..k-1 of `digits()` (same split, same scaling): a task of k classes, label entropy about
    log2(k) bits, for relating tolerance to the rate a task needs."""
    full = digits()
    train, test = full.y_train < k, full.y_test < k
    return Dataset(f"digits-{k}", full.x_train[train], full.y_train[train], full.x_test[test], full.y_test[test], k,
                   full.shape)


DATASETS = {"digits": digits, "signals": signals, "digits-2": lambda: digits_classes(2),
            "digits-4": lambda: digits_classes(4)}


def known(name: str) -> bool:
    """Whether `name` is a built-in data set or a task's name on one (networks.tasks)."""
    from networks import tasks

    return name in DATASETS or tasks.NAME.fullmatch(name) is not None


def load(name: str) -> Dataset:
    """A built-in data set by name, or a task on one by its name '<base>:<groups>[:test=N]' (networks.tasks)."""
    if ":" in name:
        from networks import tasks

        return tasks.dataset(name)
    if name not in DATASETS:
        raise NetworkError(f"unknown data set {name!r} (known: {', '.join(DATASETS)})")
    return DATASETS[name]()
