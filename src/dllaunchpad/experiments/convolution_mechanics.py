"""Chapter 31.5.1-31.5.3: what a convolutional layer computes (nothing is trained).

- Convolution against cross-correlation. torch's conv1d/conv2d (like every DL library's
  "convolution") compute the chapter's cross-correlation K ⊠ X; the chapter's convolution X * K
  reverses the kernel. We compute both from the chapter's definitions (tensors/convolution.py)
  and check, on a seeded random integer signal and on an MNIST digit (its 0-255 pixel values)
  with seeded random integer kernels of several shapes, that
  convolution = torch's conv with the flipped kernel (padding k - 1), that torch's conv with
  padding 0 = the cross-correlation definition, that the 2-D convolution is commutative (the
  chapter's X * K = K * X), and, for contrast, that *without* the flip the two differ. All inputs
  are integers and float64 holds every sum exactly, so each "error" is exactly 0.
- The output size of a strided, padded convolution, floor((n + 2p - k) / s) + 1 (the chapter
  describes stride, padding and kernel size, Figures 31.8-31.11, but gives no formula), against
  the shape torch.nn.functional.conv2d returns, on every setting of a kernel x stride x padding
  grid for a non-square input (both sides checked).
- Figures: a 3 x 3 edge kernel sliding over the digit (a few positions, each output value as
  the sum of patch x kernel), convolution against cross-correlation, and the output sizes.

The trained CNN's own first-layer feature maps are on mnist_cnn's page (first_layer_feature_maps.png,
cnn_classifier's evaluate): a compute-only stage here cannot read another experiment's model.

params: evaluate {image_index (into the prepared training split), kernel_shapes, input_size
[H, W], kernel_sizes, strides, paddings}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dllaunchpad.tensors import convolution as C

# A vertical-edge (Sobel) kernel for the sliding figure: responds where brightness changes
# from left to right.
EDGE_KERNEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
SLIDE_POSITIONS = [(3, 3), (8, 11), (14, 6), (19, 16)]   # (row, column) of the window's corner


def torch_conv1d(x: np.ndarray, k: np.ndarray, padding: int = 0) -> np.ndarray:
    t = F.conv1d(torch.from_numpy(np.asarray(x, np.float64))[None, None],
                 torch.from_numpy(np.asarray(k, np.float64))[None, None], padding=padding)
    return t[0, 0].numpy()


def torch_conv2d(X: np.ndarray, K: np.ndarray, stride=1, padding=0) -> np.ndarray:
    t = F.conv2d(torch.from_numpy(np.asarray(X, np.float64))[None, None],
                 torch.from_numpy(np.asarray(K, np.float64))[None, None], stride=stride, padding=padding)
    return t[0, 0].numpy()


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    return float(np.abs(a - b).max())


def one_d_checks(rng: np.random.Generator) -> dict:
    """A length-20 integer signal and a length-4 kernel, both in [-5, 5]."""
    x, y = rng.integers(-5, 6, 20), rng.integers(-5, 6, 4)
    k = len(y)
    conv = C.conv1d_definition(x, y).astype(np.float64)
    flipped = torch_conv1d(x, C.flip(y), padding=k - 1)
    unflipped = torch_conv1d(x, y, padding=k - 1)
    return {"x": x, "y": y, "conv": conv, "xcorr_flipped": flipped, "xcorr_unflipped": unflipped,
            "conv1d_definition_vs_numpy_max_abs_error": max_abs(conv, np.convolve(x, y).astype(np.float64)),
            "conv1d_vs_flipped_xcorr_max_abs_error": max_abs(conv, flipped),
            "conv1d_vs_unflipped_xcorr_max_abs_difference": max_abs(conv, unflipped)}


def two_d_checks(image: np.ndarray, kernel_shapes: list, rng: np.random.Generator) -> dict:
    """On the integer image, for a random integer kernel in [-3, 3] of each shape: the largest
    error of each identity over the shapes, and the first kernel's arrays for the figure."""
    keys = ("conv2d_vs_flipped_xcorr_max_abs_error", "xcorr2d_definition_vs_torch_max_abs_error",
            "conv2d_commutative_max_abs_error", "conv2d_vs_unflipped_xcorr_max_abs_difference")
    out: dict = dict.fromkeys(keys, 0.0)
    for i, shape in enumerate(kernel_shapes):
        K = rng.integers(-3, 4, tuple(shape))
        kh, kw = K.shape
        conv = C.conv2d_definition(image, K).astype(np.float64)
        flipped = torch_conv2d(image, C.flip(K), padding=(kh - 1, kw - 1))
        unflipped = torch_conv2d(image, K, padding=(kh - 1, kw - 1))
        errors = (max_abs(conv, flipped),
                  max_abs(C.xcorr2d_definition(image, K).astype(np.float64), torch_conv2d(image, K)),
                  max_abs(conv, C.conv2d_definition(K, image).astype(np.float64)),
                  max_abs(conv, unflipped))
        for key, e in zip(keys, errors):
            out[key] = max(out[key], e)
        if i == 0:
            out.update(kernel=K, conv=conv, xcorr_flipped=flipped, xcorr_unflipped=unflipped)
    return out


def output_size_grid(input_size: tuple[int, int], kernel_sizes, strides, paddings) -> list[dict]:
    """Every (k, s, p) setting where the kernel fits: the formula's (H, W) and torch's."""
    h, w = input_size
    x = torch.zeros(1, 1, h, w, dtype=torch.float64)
    rows = []
    for k in kernel_sizes:
        for s in strides:
            for p in paddings:
                if min(h, w) + 2 * p < k:
                    continue
                got = F.conv2d(x, torch.zeros(1, 1, k, k, dtype=torch.float64), stride=s, padding=p).shape[2:]
                formula = (C.output_size(h, k, s, p), C.output_size(w, k, s, p))
                rows.append({"kernel": k, "stride": s, "padding": p, "formula": formula,
                             "torch": tuple(int(v) for v in got), "agree": formula == tuple(got)})
    return rows


def sample_image(exp) -> tuple[np.ndarray, int]:
    """The digit's 0-255 integer pixel values (float64: exact) and its label."""
    from dllaunchpad.datasets import mnist

    x, y = mnist.load(exp.data_dir, "train")
    i = int(exp.spec["evaluate"]["image_index"])
    return np.rint(x[i].astype(np.float64) * 255), int(y[i])


def _sliding_figure(image: np.ndarray, label: int, path: Path) -> None:
    from matplotlib.patches import Rectangle

    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    feature = C.xcorr2d_definition(image, EDGE_KERNEL)
    plt = pyplot()
    fig = plt.figure(figsize=(12, 8.4))
    grid = fig.add_gridspec(2, 4, height_ratios=[1.5, 1])
    ax_img, ax_map = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2:])
    ax_img.imshow(image, cmap="gray")
    ax_img.set_title(f"input: an MNIST training digit (label {label}), 28 x 28")
    im = ax_map.imshow(feature, cmap="cividis")
    ax_map.set_title("feature map: kernel ⊠ input, 26 x 26 (stride 1, no padding)")
    fig.colorbar(im, ax=ax_map, fraction=0.046)
    for n, (r, c) in enumerate(SLIDE_POSITIONS):
        colour = OKABE_ITO[n % 4 + 1]
        ax_img.add_patch(Rectangle((c - 0.5, r - 0.5), 3, 3, fill=False, ec=colour, lw=2.5))
        ax_img.text(c + 1, r - 1.2, str(n + 1), color=colour, ha="center", fontsize=11, weight="bold")
        ax_map.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec=colour, lw=2.5))
        ax = fig.add_subplot(grid[1, n])
        patch = image[r:r + 3, c:c + 3]
        ax.imshow(patch, cmap="gray", vmin=0, vmax=255)
        for (i, j), v in np.ndenumerate(patch):
            ax.text(j, i, f"{int(v)}\n×{EDGE_KERNEL[i, j]}", ha="center", va="center", fontsize=8,
                    color="black" if v > 127 else "white")
        ax.set_title(f"position {n + 1}: sum = {int(feature[r, c])}", color=colour, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in (ax_img, ax_map):
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        ax.grid(False)
    fig.suptitle("A 3 x 3 vertical-edge kernel [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] sliding over the digit: "
                 "each output value is the sum of patch × kernel")
    save(fig, path)


def _conv_vs_xcorr_figure(one: dict, two: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    fig = plt.figure(figsize=(14, 8.6))
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.25])
    ax = fig.add_subplot(grid[0, :])
    i = np.arange(len(one["conv"]))
    ax.plot(i, one["conv"], "o-", color=OKABE_ITO[0], label="convolution x * y (definition)")
    ax.plot(i, one["xcorr_flipped"], "x", color=OKABE_ITO[3], ms=10, mew=2,
            label="torch conv1d with the flipped kernel (padding k − 1)")
    ax.plot(i, one["xcorr_unflipped"], "s--", color=OKABE_ITO[2], ms=4, label="torch conv1d, kernel not flipped")
    ax.set_xlabel("output index i")
    ax.set_ylabel("s(i)")
    ax.set_title(f"1-D: x = 20 random integers, y = {one['y'].tolist()}")
    ax.legend(loc="lower left", fontsize=9, ncols=3, bbox_to_anchor=(0, 1.08))
    panels = ((two["conv"], "convolution X * K (definition)"),
              (two["xcorr_flipped"], "torch conv2d, flipped K"),
              (two["conv"] - two["xcorr_flipped"], "difference (all 0)"),
              (two["conv"] - two["xcorr_unflipped"], "difference, K not flipped"))
    for n, (value, title) in enumerate(panels):
        ax = fig.add_subplot(grid[1, n])
        lim = np.abs(value).max() or 1
        im = ax.imshow(value, cmap="cividis", vmin=-lim, vmax=lim)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"Convolution = cross-correlation with the flipped kernel (2-D: the digit, K = "
                 f"{two['kernel'].tolist()})")
    save(fig, path)


def _output_size_figure(rows: list[dict], input_size, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    kernels = sorted({r["kernel"] for r in rows})
    strides = sorted({r["stride"] for r in rows})
    paddings = sorted({r["padding"] for r in rows})
    plt = pyplot()
    fig, axes = plt.subplots(1, len(paddings), figsize=(2.7 * len(paddings) + 1, 4.4), squeeze=False)
    for ax, p in zip(axes[0], paddings):
        table = np.full((len(kernels), len(strides)), np.nan)
        for r in rows:
            if r["padding"] == p:
                table[kernels.index(r["kernel"]), strides.index(r["stride"])] = r["torch"][0]
        ax.imshow(table, cmap="cividis", vmin=0, vmax=np.nanmax([r["torch"][0] for r in rows]))
        for r in rows:
            if r["padding"] == p:
                ax.text(strides.index(r["stride"]), kernels.index(r["kernel"]), str(r["torch"][0]) +
                        ("" if r["agree"] else " ≠"), ha="center", va="center", fontsize=9,
                        color="black" if r["torch"][0] > 15 else "white")
        ax.set_xticks(range(len(strides)), strides)
        ax.set_yticks(range(len(kernels)), kernels)
        ax.set_xlabel("stride s")
        ax.set_ylabel("kernel size k")
        ax.set_title(f"padding p = {p}")
        ax.grid(False)
    agree = sum(r["agree"] for r in rows)
    fig.suptitle(f"Output height for a {input_size[0]} x {input_size[1]} input: floor((n + 2p − k)/s) + 1 "
                 f"= torch's in {agree} of {len(rows)} settings (both sides)")
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    cfg = exp.spec["evaluate"]
    rng = np.random.default_rng(exp.seed)
    image, label = sample_image(exp)
    one = one_d_checks(rng)
    two = two_d_checks(image, cfg["kernel_shapes"], rng)
    rows = output_size_grid(tuple(cfg["input_size"]), cfg["kernel_sizes"], cfg["strides"], cfg["paddings"])
    _sliding_figure(image, label, figures_dir / "kernel_sliding.png")
    _conv_vs_xcorr_figure(one, two, figures_dir / "conv_vs_xcorr.png")
    _output_size_figure(rows, cfg["input_size"], figures_dir / "output_sizes.png")
    (figures_dir / "output_sizes.json").write_text(json.dumps(rows, indent=1) + "\n")
    metrics = {k: v for k, v in {**one, **two}.items() if isinstance(v, float)}
    metrics.update({
        "output_size_settings": len(rows),
        "output_size_settings_agree": sum(r["agree"] for r in rows),
        "output_size_formula_always_agrees": all(r["agree"] for r in rows),
        "sample_image_label": label,
        "edge_kernel_feature_map_size": f"{image.shape[0] - 2} x {image.shape[1] - 2}",
        "headline": "output_size_settings_agree",
        "thumbnail": "kernel_sliding.png",
    })
    return metrics
