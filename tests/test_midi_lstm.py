"""Chapter 31.6.7: the MIDI LSTM, note generation, the MIDI/audio/statistics helpers, and the
train -> generate -> evaluate chain on a few real files in a temporary root."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest
import torch
import yaml

from dllaunchpad import datasets
from dllaunchpad.analysis import music
from dllaunchpad.pipeline.config import load_params
from dllaunchpad.models.midi_lstm import MidiLSTM, generate_notes, parameter_count
from dllaunchpad.pipeline.registry import Registry

from conftest import REPO, in_ci, require

ADAM = {"name": "adam", "lr": 1e-3, "weight_decay": 1e-5}


def test_parameter_count_matches_the_chapter():
    model = MidiLSTM(hidden=128, vocab=128, dropout=0.1, optimizer=ADAM)
    by_module = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    # By hand: LSTM 4 gates x (128 x (3 + 128) weights + 2 x 128 biases); heads 128x128+128, 2 x 129.
    assert by_module == {"rnn": 68096, "dropout": 0, "fc_pitch": 16512, "fc_step": 129, "fc_duration": 129}
    assert sum(by_module.values()) == parameter_count(128, 128) == 84866  # chapter: "84.9 K"


def test_forward_shapes_and_loss_terms():
    torch.manual_seed(0)
    model = MidiLSTM(hidden=16, vocab=128, dropout=0.1, optimizer=ADAM).eval()
    x = torch.rand(5, 25, 3)
    pred = model(x)
    assert pred["pitch"].shape == (5, 128) and pred["step"].shape == (5,) and pred["duration"].shape == (5,)
    target = torch.tensor([[60.0, 0.25, 0.5]] * 5)
    parts = model.losses(pred, target)
    ce = torch.nn.functional.cross_entropy(pred["pitch"], target[:, 0].long())
    step, duration = ((pred["step"] - 0.25) ** 2).mean(), ((pred["duration"] - 0.5) ** 2).mean()
    torch.testing.assert_close(parts["loss"], ce + step + duration)
    torch.testing.assert_close(parts["unweighted"], ce + step + duration)
    # exercise 31.9.2's loss weights: the objective is weighted, the chapter's sum stays unweighted
    weighted = MidiLSTM(hidden=16, vocab=128, dropout=0.1, optimizer=ADAM,
                        loss_weights={"pitch": 0.05, "step": 1.0, "duration": 2.0})
    parts = weighted.losses(pred, target)
    torch.testing.assert_close(parts["loss"], 0.05 * ce + step + 2.0 * duration)
    torch.testing.assert_close(parts["unweighted"], ce + step + duration)
    with pytest.raises(ValueError, match="unknown term.*velocity"):
        MidiLSTM(hidden=16, vocab=128, dropout=0.1, optimizer=ADAM, loss_weights={"velocity": 1.0})


def test_a_stacked_lstm_counts_its_second_layer():
    # exercise 31.9.2's extra layer: layer 2 reads layer 1's 128-unit state, 4 x (128 x 256 + 256)
    model = MidiLSTM(hidden=128, vocab=128, dropout=0.1, optimizer=ADAM, layers=2)
    assert model.rnn.num_layers == 2 and model.rnn.dropout == 0.1
    assert sum(p.numel() for p in model.parameters()) == parameter_count(128, 128, layers=2) == 84866 + 132096
    assert MidiLSTM(hidden=8, vocab=128, dropout=0.1, optimizer=ADAM).rnn.dropout == 0.0  # one layer: none
    out = model(torch.rand(2, 25, 3))
    assert out["pitch"].shape == (2, 128)


def _constant_heads(step_bias: float, duration_bias: float, pitch: int | None = None) -> MidiLSTM:
    """A model whose step/duration heads output their bias (and pitch logits one-hot, if given)."""
    torch.manual_seed(0)
    model = MidiLSTM(hidden=8, vocab=128, dropout=0.0, optimizer=ADAM)
    with torch.no_grad():
        for head, bias in [(model.fc_step, step_bias), (model.fc_duration, duration_bias)]:
            head.weight.zero_()
            head.bias.fill_(bias)
        if pitch is not None:
            model.fc_pitch.weight.zero_()
            model.fc_pitch.bias.fill_(-1e4)
            model.fc_pitch.bias[pitch] = 0.0
    return model


def _generate(model, n=30, temperature=1.0, seed=0):
    return generate_notes(model, torch.rand(25, 3) * torch.tensor([100.0, 1, 1]), n, temperature=temperature,
                          generator=torch.Generator().manual_seed(seed), quantum=0.125, max_silence=1.0)


def test_generation_clamps_caps_and_quantises():
    torch.manual_seed(1)
    negative = _generate(_constant_heads(-0.7, -0.3, pitch=64))
    assert (negative[:, 0] == 64).all() and (negative[:, 1:] == 0).all()  # clamped at 0
    long = _generate(_constant_heads(3.3, 0.3))
    assert (long[:, 1] == 1.0).all()                                      # capped at max_silence
    assert (long[:, 2] == 0.25).all()                                     # 0.3 -> 2.4 quanta -> 0.25


def test_generation_is_seeded_and_temperature_sharpens():
    torch.manual_seed(2)
    model = MidiLSTM(hidden=16, vocab=128, dropout=0.1, optimizer=ADAM)
    torch.manual_seed(3)
    a = _generate(model, n=60, seed=7)
    torch.manual_seed(4)  # the global stream must not matter
    b = _generate(model, n=60, seed=7)
    assert torch.equal(a, b) and not torch.equal(a, _generate(model, n=60, seed=8))
    cold = _generate(model, n=60, temperature=0.05, seed=7)
    assert len(torch.unique(cold[:, 0])) < len(torch.unique(_generate(model, n=60, temperature=5.0, seed=7)[:, 0]))
    with pytest.raises(ValueError, match="temperature"):
        _generate(model, temperature=0)


def test_midi_bytes_keep_every_note(tmp_path):
    # zero durations, a repeated pitch overlapping itself, and two notes at once
    notes = np.array([[60, 0, 0], [60, 0.125, 1.0], [60, 0.25, 0.0], [64, 0, 0.5], [67, 0.5, 0.25]], np.float32)
    path = tmp_path / "t.mid"
    path.write_bytes(music.midi_bytes(notes, min_duration=0.125))
    parsed = music.read_midi_notes(path)
    assert len(parsed) == 5
    assert sorted(n.pitch for n in parsed) == [60, 60, 60, 64, 67]
    np.testing.assert_allclose(sorted(n.start for n in parsed), [0, 0.125, 0.375, 0.375, 0.875], atol=0.003)
    assert music.midi_bytes(notes, 0.125) == path.read_bytes()


@pytest.mark.real_component
def test_audio_is_rendered_with_fluidsynth_and_sox(tmp_path):
    """The audio path of the generate stage: MIDI -> fluidsynth (General MIDI soundfont) -> WAV ->
    sox -> Ogg Vorbis. Skips without the tools on a developer's machine; required under CI=true
    (.ci/run installs fluidsynth, fluid-soundfont-gm and sox)."""
    import subprocess

    tools, why = music.audio_tools()
    require(tools, why)
    # C, E, G: starts 0, 0.5, 1.0 s; the last note ends at 2.0 s.
    notes = np.array([[60, 0, 0.5], [64, 0.5, 0.5], [67, 0.5, 1.0]], np.float32)
    midi = tmp_path / "triad.mid"
    midi.write_bytes(music.midi_bytes(notes, min_duration=0.125))
    ogg = music.render_ogg(midi, tmp_path / "triad.ogg", tools)
    assert ogg == tmp_path / "triad.ogg" and ogg.read_bytes()[:4] == b"OggS"
    stat = subprocess.run([tools["sox"], str(ogg), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    facts = {" ".join(k.split()): float(v) for k, v in re.findall(r"^([A-Za-z ()]+):\s+([-\d.e]+)$", stat, re.M)}
    # 2 s of notes plus the soundfont's release tail (FluidR3_GM: 4.9 s in all); not silence
    # (FluidR3_GM at gain 0.7: peak 0.11, RMS 0.017 of full scale).
    assert 2.0 <= facts["Length (seconds)"] <= 10.0, stat
    assert facts["Maximum amplitude"] > 0.02 and facts["RMS amplitude"] > 0.002, stat


def test_track_statistics():
    corpus = np.array([[60, 0.5, 1], [62, 0.5, 1], [72, 0, 1], [64, 0, 1]], np.float32)  # C D C E
    track = np.array([[61, 0.25, 0.5], [61, 0.25, 0.5], [80, 0.5, 0.5], [60, 1, 0.5]], np.float32)
    stats = music.track_statistics(track, corpus)
    # pitch classes: corpus C .5, D .25, E .25; track C# .5, G# .25, C .25 -> TV = (0.25+0.25+0.25+0.5+0.25)/2
    assert stats == {"pitch_class_distance": 0.75, "in_training_range": 0.75, "mean_step": 0.5,
                     "mean_duration": 0.5, "distinct_pitches": 3}
    assert music.track_statistics(corpus, corpus)["pitch_class_distance"] == 0.0


# -- train -> generate -> evaluate on four real pieces ------------------------------------------

PIECES = ["chpn-p7.mid", "chpn-p20.mid", "bor_ps5.mid", "chpn-p1.mid"]  # 167-327 notes each
HOLDOUT = "chpn-p1.mid"


@pytest.fixture
def small_root(mirror, tmp_path):
    raw = tmp_path / "raw"
    (raw / "midi").mkdir(parents=True)
    with zipfile.ZipFile(mirror("classical-piano") / "classical-piano.zip") as z:
        for name in PIECES:
            (raw / "midi" / name).write_bytes(z.read(name))
    root = tmp_path / "root"
    datasets.prepare("classical_piano", raw, root / "data/processed/classical_piano", {"quantum": 0.125})
    return root


@pytest.fixture
def small_exp(raw_params, small_root):
    params = load_params(raw_params)
    spec = params["experiments"]["midi_lstm"]
    spec["data"]["holdout_file"] = HOLDOUT
    spec["trainer"].update(epochs=2, limit_train_batches=4)
    spec["generate"]["temperatures"] = [0.5, 1.5]
    return Registry.from_params(params, root=small_root).experiment("midi_lstm")


def test_train_generate_evaluate(small_root, small_exp, monkeypatch):
    from dllaunchpad.runners.evaluate import evaluate
    from dllaunchpad.runners.generate import generate
    from dllaunchpad.runners.train import train

    exp = small_exp
    assert exp.root == small_root and exp.generates and exp.generated_dir == "reports/music/midi_lstm"
    info = train(exp, progress=False)
    assert info["epochs_run"] == 2
    music_dir = small_root / exp.generated_dir

    first = generate(exp)
    # Under CI the tools are installed (.ci/run): the audio path must have run, not been skipped.
    assert first["metrics"]["audio_rendered"] or not in_ci(), first["metrics"]["audio_note"]
    midi = {t["midi"]: (music_dir / t["midi"]).read_bytes() for t in first["tracks"]}
    assert list(midi) == ["midi_lstm_t0.5.mid", "midi_lstm_t1.5.mid"]
    for t in first["tracks"]:
        assert len(music.read_midi_notes(music_dir / t["midi"])) == 400 == t["notes"]
        assert (music_dir / t["piano_roll"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if first["metrics"]["audio_rendered"]:
            assert (music_dir / t["audio"]).read_bytes()[:4] == b"OggS"
    m = first["metrics"]
    assert m["seed_file"] == HOLDOUT and m["generated_notes"] == 400
    assert 0 <= m["t1.5_pitch_class_distance"] <= 1 and 0 < m["t0.5_in_training_range"] <= 1
    assert m["t0.5_distinct_pitches"] <= m["t1.5_distinct_pitches"]  # same stream, hotter sampling
    assert (music_dir / "statistics.csv").read_text().splitlines()[0] == (
        "track,pitch_class_distance,in_training_range,mean_step,mean_duration,distinct_pitches")

    # Again, now without the audio tools: identical MIDI bytes, and the summary says why no audio.
    monkeypatch.setattr(music.shutil, "which", lambda name: None)
    second = generate(exp)
    assert {name: (music_dir / name).read_bytes() for name in midi} == midi
    assert second["metrics"]["audio_rendered"] is False and "fluidsynth" in second["metrics"]["audio_note"]
    assert not list(music_dir.glob("*.ogg")) and all(t["audio"] is None for t in second["tracks"])
    saved = json.loads((music_dir / "summary.json").read_text())
    assert saved["experiment"] == "midi_lstm" and saved["metrics"]["audio_rendered"] is False

    metrics = evaluate(exp)
    assert metrics["parameters"] == metrics["parameters_by_hand"] == 84866
    assert metrics["t1.5_distinct_pitches"] == m["t1.5_distinct_pitches"]
    assert np.isfinite([metrics["train_loss"], metrics["val_loss"]]).all() and metrics["val_loss"] < 6
    assert {p.name for p in (small_root / exp.figures_dir).iterdir()} == {
        "loss.png", "loss_terms.png", "pitch_classes.png", "statistics.csv", "run.json", "history.png"}
    chapter = yaml.safe_load((REPO / "src/dllaunchpad/report/chapter_values.yaml").read_text())
    assert set(chapter["midi_lstm"]["values"]) <= set(metrics)


def test_holdout_file_never_in_training_windows(small_root, small_exp):
    from dllaunchpad.experiments.midi_lstm import build

    _, dm = build(small_exp)
    assert HOLDOUT not in dm.files and len(dm.files) == 3
    n_notes = sum(len(music.read_midi_notes(small_root.parent / "raw/midi" / f)) for f in dm.files)
    assert len(dm.windows) == n_notes - 3 * 25


def test_holdout_file_not_in_the_corpus_stops_training_naming_the_key(small_root, small_exp):
    """A typo in data.holdout_file fails the train stage before any epoch, naming the key and
    the corpus' closest file names (difflib), and leaves no model behind."""
    import dataclasses

    from dllaunchpad.runners.train import train

    data = {**small_exp.spec["data"], "holdout_file": "chpn-p2.mid"}  # chpn-p20.mid / chpn-p1.mid meant
    exp = dataclasses.replace(small_exp, spec={**small_exp.spec, "data": data})
    with pytest.raises(ValueError, match=r"experiments\.midi_lstm\.data\.holdout_file: 'chpn-p2\.mid' is not a "
                                         r"file of the classical_piano corpus") as info:
        train(exp, progress=False)
    close = str(info.value).split("close matches: ")[1].split(", ")
    assert "chpn-p20.mid" in close and "chpn-p1.mid" in close and "bor_ps5.mid" not in close
    assert not (small_root / exp.model_dir).exists()
    far = dataclasses.replace(small_exp, spec={**small_exp.spec, "data": {**data, "holdout_file": "zzz.mid"}})
    with pytest.raises(ValueError, match=r"no close match; its first files: bor_ps5\.mid, chpn-p1\.mid"):
        train(far, progress=False)


def test_evaluate_without_generated_summary_names_the_command(small_exp):
    from dllaunchpad.experiments.midi_lstm import read_generated_summary

    with pytest.raises(FileNotFoundError, match=r"reports/music/midi_lstm/summary\.json.*dllaunchpad generate midi_lstm"):
        read_generated_summary(small_exp)


def test_model_reads_no_data(small_exp, tmp_path):
    from dllaunchpad.experiments.midi_lstm import build, model

    torch.manual_seed(0)
    built, _ = build(small_exp)
    torch.manual_seed(0)
    alone = model(small_exp.at(tmp_path / "no_data_here"))
    a, b = built.state_dict(), alone.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_generate_stage_sits_between_train_and_evaluate(raw_params):
    from dllaunchpad.pipeline.dvc_yaml import stages

    reg = Registry.from_params(load_params(raw_params))
    exp = reg.experiment("midi_lstm")
    stage = stages(reg)["generate_midi_lstm"]
    assert stage["cmd"] == "dllaunchpad --threads 1 generate midi_lstm"  # pinned: params.yaml threads
    assert exp.model_dir in stage["deps"] and "data/processed/classical_piano" in stage["deps"]
    assert [o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]] == ["reports/music/midi_lstm"]
    report_inputs = reg.stage("report").inputs
    assert exp.generated_dir in reg.stage("evaluate_midi_lstm").inputs and exp.generated_dir in report_inputs
    assert not reg.experiment("xor").generates and "reports/music/xor" not in report_inputs
