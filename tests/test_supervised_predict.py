"""`dllaunchpad predict` (issue 3's exercises): a 28x28 grayscale digit PNG in, the softmax
scores and the predicted digit out, or the denoising autoencoder's cleaned image; anything else
is refused with a message naming the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from dllaunchpad import cli
from dllaunchpad.pipeline.config import load_params, read_params
from dllaunchpad.runners.predict import add_noise, denoise, read_digit
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.runners.train import load_trained, train

from supervised_data import experiment, one_thread, write_synthetic_mnist


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A root with synthetic MNIST, the repository's params.yaml, and two briefly trained
    models (the architecture is the full one; only the epochs are fewer)."""
    from conftest import REPO

    root = tmp_path_factory.mktemp("predict")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    write_synthetic_mnist(root / "data/processed/mnist", n_train=400, n_test=50)
    params = load_params(read_params(root / "params.yaml"), scale="full")
    with one_thread():
        stage = Registry.from_params(params).stage("train_mnist_mlp")  # with a stage: the model card too
        train(experiment(params, "mnist_mlp", trainer={"epochs": 2}).at(root), progress=False, stage=stage)
        train(experiment(params, "mnist_denoising_ae_lr1", trainer={"epochs": 1, "batch_size": 100}).at(root),
              progress=False)
    return root


@pytest.fixture
def digit(root):
    """Test digit 0 of the synthetic set as a PNG, and its label."""
    with np.load(root / "data/processed/mnist/test.npz") as f:
        x, y = f["x"][0], int(f["y"][0])
    path = root / f"digit_{y}.png"
    Image.fromarray(x, mode="L").save(path)
    return path, x, y


def predict_cli(root, monkeypatch, capsys, *args):
    monkeypatch.chdir(root)
    with one_thread():
        code = cli.main(["predict", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_read_digit_scales_like_training(digit):
    path, x, _ = digit
    pixels, warnings = read_digit(path)
    assert pixels.shape == (28, 28) and pixels.dtype == np.float32 and warnings == []
    np.testing.assert_array_equal(pixels, x.astype(np.float32) / 255)


@pytest.mark.parametrize("size, mode, message", [
    ((56, 56), "L", "is 56x56 pixels, expected 28x28"),
    ((28, 28), "RGB", "has mode RGB, expected 8-bit grayscale"),
    ((30, 20), "RGBA", "is 30x20 pixels, expected 28x28 and has mode RGBA"),
])
def test_other_sizes_and_modes_are_refused_unless_resized(tmp_path, size, mode, message):
    path = tmp_path / "mine.png"
    Image.new(mode, size).save(path)
    with pytest.raises(ValueError, match=f"{path}: {message}.*--resize"):
        read_digit(path)
    pixels, warnings = read_digit(path, resize=True)
    assert pixels.shape == (28, 28) and any("converted" in w for w in warnings)


def test_not_a_png_or_missing(tmp_path):
    jpg = tmp_path / "digit.png"
    Image.new("L", (28, 28)).save(jpg, format="JPEG")
    with pytest.raises(ValueError, match="digit.png: is a JPEG file; expected a PNG"):
        read_digit(jpg)
    with pytest.raises(FileNotFoundError, match="nope.png: no such image file"):
        read_digit(tmp_path / "nope.png")
    text = tmp_path / "text.png"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.png: not a readable image"):
        read_digit(text)


def test_dark_on_light_gets_a_warning(tmp_path):
    path = tmp_path / "inverted.png"
    Image.new("L", (28, 28), 240).save(path)
    _, warnings = read_digit(path)
    assert any("white digits on a black background" in w for w in warnings)


def test_classifier_prints_scores_and_the_digit(root, digit, monkeypatch, capsys):
    path, _, label = digit
    code, out, _ = predict_cli(root, monkeypatch, capsys, "mnist_mlp", path)
    assert code == 0
    scores = [float(line.split(":")[1]) for line in out.splitlines() if line.startswith("  ")]
    assert len(scores) == 10 and sum(scores) == pytest.approx(1, abs=1e-5)
    assert f"predicted digit: {int(np.argmax(scores))}" in out
    assert f"predicted digit: {label}" in out  # the synthetic classes are easy
    assert "model card (models/mnist_mlp/card.json):" in out  # what made the model, under the answer
    assert "- rebuild: dvc repro train_mnist_mlp" in out and "seed 0, scale full" in out


def test_cli_errors_name_the_file_or_experiment(root, digit, tmp_path, monkeypatch, capsys):
    big = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(big)
    code, _, err = predict_cli(root, monkeypatch, capsys, "mnist_mlp", big)
    assert code == 1 and f"error: {big}: is 64x64 pixels" in err and "--resize" in err
    code, out, _ = predict_cli(root, monkeypatch, capsys, "mnist_mlp", big, "--resize")
    assert code == 0 and "predicted digit:" in out and "converted" in out
    code, _, err = predict_cli(root, monkeypatch, capsys, "iris_mlp", digit[0])
    assert code == 1 and "iris_mlp is a mlp_classifier on iris" in err
    code, _, err = predict_cli(root, monkeypatch, capsys, "mnist_cnn", digit[0])
    assert code == 1 and "models/mnist_cnn/last.ckpt: no checkpoint; run `dllaunchpad train mnist_cnn`" in err
    code, _, err = predict_cli(root, monkeypatch, capsys, "mnist_mlp", digit[0], "--out", tmp_path / "x.png")
    assert code == 1 and "--out is for the denoising autoencoder" in err


def test_autoencoder_writes_the_cleaned_image(root, digit, tmp_path, monkeypatch, capsys):
    path = digit[0]
    out_png = tmp_path / "cleaned.png"
    code, out, _ = predict_cli(root, monkeypatch, capsys, "mnist_denoising_ae_lr1", path, "--noise", 0.28,
                               "--out", out_png)
    assert code == 0 and f"wrote the cleaned image to {out_png}" in out
    with Image.open(out_png) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (28, 28)
        written = np.asarray(im)
    # The same as running the network by hand on the same seeded noise.
    params = load_params(read_params(root / "params.yaml"), scale="full")
    exp = Registry.from_params(params, root=root).experiment("mnist_denoising_ae_lr1")
    with one_thread():
        expected = denoise(load_trained(exp), add_noise(read_digit(path)[0], 0.28, 0))
    np.testing.assert_array_equal(written, np.round(expected * 255).astype(np.uint8))


def _huge_png(path, width: int, height: int):
    """A valid 1-bit grayscale PNG of width x height black pixels, written by hand: the rows of
    zeros deflate ~1000:1, so a 20000x20000 image (400 megapixels) is a ~50 kB file."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed 1-bit pixels
    deflate = zlib.compressobj(9)
    idat = b"".join(deflate.compress(row * 500) for _ in range(height // 500))
    idat += deflate.compress(row * (height % 500)) + deflate.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side, why", [(20000, "could be decompression bomb"),   # > 2x PIL's limit: its error
                                       (10000, "could be decompression bomb"),   # 1-2x PIL's limit: its warning
                                       (7000, "over the 36-megapixel limit")])    # under PIL's, over ours
def test_decompression_bomb_is_refused_before_decoding(tmp_path, side, why):
    bomb = _huge_png(tmp_path / f"bomb{side}.png", side, side)
    import struct

    header = bomb.read_bytes()[:24]  # the IHDR's width and height (PIL itself would refuse to open it)
    assert bomb.stat().st_size < 200_000 and struct.unpack(">II", header[16:24]) == (side, side)
    for resize in (False, True):
        with pytest.raises(ValueError, match=rf"bomb{side}\.png: .*refused before decoding") as info:
            read_digit(bomb, resize=resize)
        assert why in str(info.value)


def test_cli_refuses_a_decompression_bomb_with_a_message(root, tmp_path, monkeypatch, capsys):
    bomb = _huge_png(tmp_path / "bomb.png", 20000, 20000)
    code, out, err = predict_cli(root, monkeypatch, capsys, "mnist_mlp", bomb, "--resize")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"error: {bomb}: refused before decoding") and "decompression bomb" in err
