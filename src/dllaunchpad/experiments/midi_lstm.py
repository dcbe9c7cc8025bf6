"""Chapter 31.6.7: LSTM music generation on the classical-piano MIDI notes.

- build: windows of ``seq_length + 1`` notes over every file except the held-out one (the
  generation seed piece, so its notes are in neither the training nor the validation windows),
  split 80/20 with a seeded generator, and the chapter's LSTM (models/midi_lstm.py).
- generate: from the held-out file skip ``skip_notes`` notes, take the next ``seed_notes`` as the
  seed, and continue it by ``notes`` notes at each temperature; MIDI, piano roll and audio per
  track, plus statistics of each track against the training corpus.
- evaluate: final losses, learning curves, and the generation statistics (read from the
  generate stage's summary).

The chapter seeded with a Clementi sonata movement (Op. 37 No. 2, I) that is not among its 75
files; our held-out file is in the corpus and is removed from training instead.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import torch

from dllaunchpad.datasets.midi_windows import FEATURES, MidiWindowDataModule, corpus_arrays
from dllaunchpad.models.midi_lstm import MidiLSTM, generate_notes, parameter_count

STAT_KEYS = ["pitch_class_distance", "in_training_range", "mean_step", "mean_duration", "distinct_pitches"]


def model(exp) -> MidiLSTM:
    m = exp.spec["model"]
    return MidiLSTM(m["hidden"], m["vocab"], m["dropout"], exp.spec["optimizer"], layers=m.get("layers", 1),
                    loss_weights=m.get("loss_weights"))


def holdout_file(exp, files) -> str:
    """``data.holdout_file``, checked against the corpus' file names (the notes table's ``file``
    column) before any window is cut or any epoch runs: a name that is not in the corpus (a typo,
    or a file that quick mode's ``max_files`` leaves out) stops the stage naming the key and the
    closest names."""
    import difflib

    name, files = exp.spec["data"]["holdout_file"], sorted(set(map(str, files)))
    if name in files:
        return name
    key = f"experiments.{exp.variant_of or exp.name}.data.holdout_file"
    close = difflib.get_close_matches(name, files, n=5, cutoff=0.6)
    hint = (f"close matches: {', '.join(close)}" if close
            else f"no close match; its first files: {', '.join(files[:8])}{', ...' if len(files) > 8 else ''}")
    raise ValueError(f"{key}: {name!r} is not a file of the {exp.dataset} corpus ({exp.data_dir}, "
                     f"{len(files)} files at scale {exp.scale}); {hint}")


def build(exp):
    from dllaunchpad.datasets.classical_piano import load_notes

    data, trainer = exp.spec["data"], exp.spec["trainer"]
    holdout = holdout_file(exp, load_notes(exp.data_dir)["file"].unique())
    # The windows first, then the model, as before (the split draws from its own generator).
    dm = MidiWindowDataModule(exp.data_dir, seq_length=data["seq_length"],
                              val_fraction=data["val_fraction"], batch_size=trainer["batch_size"],
                              seed=exp.seed, holdout=(holdout,))
    return model(exp), dm


def track_name(exp, temperature: float) -> str:
    return f"{exp.name}_t{float(temperature)}"  # midi_lstm_t1.0


def seed_sequence(df, file: str, skip: int, length: int) -> np.ndarray:
    """Notes ``skip .. skip + length`` of ``file`` (the chapter's get_seed_sequence, but with the
    file's own steps: the chapter sets the first seed note's step to 0)."""
    notes = df[df["file"] == file].sort_values("index")[FEATURES].to_numpy(np.float32)
    if len(notes) < skip + length:
        raise ValueError(f"seed file {file} has {len(notes)} notes; skip_notes + seed_notes = {skip + length}")
    return notes[skip:skip + length]


def generate(exp, module, out_dir: Path) -> dict:
    from dllaunchpad import io
    from dllaunchpad.analysis import music
    from dllaunchpad.datasets.classical_piano import load_notes

    g = exp.spec["generate"]
    df = load_notes(exp.data_dir)
    holdout = holdout_file(exp, df["file"].unique())
    corpus, _, _ = corpus_arrays(df, exclude=(holdout,))  # the training (train + val) notes
    seed = seed_sequence(df, holdout, g["skip_notes"], g["seed_notes"])
    pitch_range = (int(corpus[:, 0].min()), int(corpus[:, 0].max()))
    tools, why_no_audio = music.audio_tools()
    if tools is None:
        music.log.warning("%s: %s", exp.name, why_no_audio)

    rows = {"corpus": music.track_statistics(corpus, corpus), "seed": music.track_statistics(seed, corpus)}
    tracks, metrics = [], {}
    for temperature in g["temperatures"]:
        name = track_name(exp, temperature)
        # The same seeded stream at every temperature: the tracks differ by temperature alone.
        generator = torch.Generator().manual_seed(int(g["seed"]))
        notes = generate_notes(module, torch.from_numpy(seed), g["notes"], temperature=float(temperature),
                               generator=generator, quantum=g["quantum"], max_silence=g["max_silence"]).numpy()
        io.write_bytes(out_dir / f"{name}.mid", music.midi_bytes(notes, g["min_duration"]))
        music.piano_roll(out_dir / f"{name}.png", notes, f"Generated, temperature {float(temperature)}: "
                         f"{len(notes)} notes after a {len(seed)}-note seed from {holdout}",
                         g["min_duration"], seed=seed, pitch_range=pitch_range)
        ogg = None
        if tools is not None:
            try:
                ogg = music.render_ogg(out_dir / f"{name}.mid", out_dir / f"{name}.ogg", tools).name
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                # The music is the MIDI file; a synthesiser failure costs the audio, not the stage.
                detail = getattr(exc, "stderr", b"") or b""
                why_no_audio = f"audio skipped: {exc} {detail.decode(errors='replace')[-300:]}".strip()
                music.log.warning("%s: %s", exp.name, why_no_audio)
                tools = None
        stats = music.track_statistics(notes, corpus)
        rows[f"t{float(temperature)}"] = stats
        metrics.update({f"t{float(temperature)}_{k}": v for k, v in stats.items()})
        tracks.append({"name": name, "temperature": float(temperature), "midi": f"{name}.mid",
                       "piano_roll": f"{name}.png", "audio": ogg, "notes": int(len(notes))})
    _write_statistics(out_dir / "statistics.csv", rows)
    metrics.update({f"corpus_{k}": v for k, v in rows["corpus"].items() if k != "pitch_class_distance"})
    metrics.update({"generated_notes": int(g["notes"]), "seed_file": holdout,
                    "audio_rendered": all(t["audio"] for t in tracks), "audio_note": why_no_audio or "fluidsynth + sox (Ogg Vorbis)"})
    return {"metrics": metrics, "tracks": tracks, "statistics": rows, "seed_file": holdout,
            "pitch_class_histograms": {k: music.pitch_class_histogram(v[:, 0]).round(6).tolist()
                                       for k, v in [("corpus", corpus), ("seed", seed)]}}


def _write_statistics(path: Path, rows: dict[str, dict]) -> None:
    from dllaunchpad import io

    lines = ["track," + ",".join(STAT_KEYS)]
    lines += [f"{name}," + ",".join(str(stats[k]) for k in STAT_KEYS) for name, stats in rows.items()]
    io.write_text(path, "\n".join(lines) + "\n")


def read_generated_summary(exp) -> dict:
    """The generate stage's summary.json (reports/music/<exp>/summary.json)."""
    path = exp.path(exp.generated_summary)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nothing generated yet; run `dllaunchpad generate {exp.name}` first")
    return json.loads(path.read_text())


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad import io
    from dllaunchpad.analysis.figures import curves, read_history

    history = read_history(exp.path(exp.history))
    curves(figures_dir / "loss.png", history, ["train_loss", "val_loss"], "loss (CE + MSE + MSE)",
           "Training and validation loss per epoch", labels={"train_loss": "train", "val_loss": "validation"})
    _loss_terms_figure(figures_dir / "loss_terms.png", exp, history)

    summary = read_generated_summary(exp)
    io.write_text(figures_dir / "statistics.csv", exp.path(exp.generated_dir).joinpath("statistics.csv").read_text())
    _pitch_class_figure(figures_dir / "pitch_classes.png", summary, exp.path(exp.generated_dir))

    info = json.loads(exp.path(exp.model_dir).joinpath("train.json").read_text())
    val = np.array(history["val_loss"])
    m = exp.spec["model"]
    metrics = {
        "train_loss": history["train_loss"][-1],   # last epoch, the chapter's printed values
        "val_loss": history["val_loss"][-1],       # the objective (weighted when loss_weights are set)
        # each term, and the chapter's unweighted sum: on one scale whatever the weights
        **{f"val_{t}_loss": history[f"val_{t}_loss"][-1] for t in ("pitch", "step", "duration", "unweighted")
           if f"val_{t}_loss" in history},
        "val_pitch_accuracy": history["val_pitch_accuracy"][-1],
        "best_val_loss": float(val.min()),
        "best_val_epoch": int(val.argmin()) + 1,
        "epochs_run": int(info["epochs_run"]),
        "epoch_seconds": round(info["train_seconds"] / max(info["epochs_run"], 1), 3),
        "parameters": sum(p.numel() for p in module.parameters()),
        "parameters_by_hand": parameter_count(m["hidden"], m["vocab"], layers=m.get("layers", 1)),
        **summary["metrics"],
    }
    return metrics


def _loss_terms_figure(path: Path, exp, history: dict) -> None:
    """The three loss terms, each on its own axis (exercise 31.9.2: "investigate the parameter
    losses individually"): cross-entropy in nats and the two MSEs in s² differ by orders of
    magnitude, so one shared axis would flatten the small ones."""
    from dllaunchpad.analysis.figures import epoch_axis, pyplot, save

    weights = exp.spec["model"].get("loss_weights") or {}
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    few = len(history.get("epoch", [])) < 12
    for ax, (term, what) in zip(axes, [("pitch", "cross-entropy (nats)"), ("step", "MSE (s²)"),
                                       ("duration", "MSE (s²)")]):
        for split, name in (("train", "train"), ("val", "validation")):
            key = f"{split}_{term}_loss"
            if key in history:
                ax.plot(history["epoch"], history[key], label=name, marker="o" if few else None, markersize=4)
        epoch_axis(ax)
        ax.set_ylabel(what)
        ax.set_title(f"{term}: weight {float(weights.get(term, 1.0)):g} in the objective", fontsize=10)
        ax.legend()
    fig.suptitle(f"{exp.name}: the three loss terms per epoch")
    save(fig, path, alt="Three panels, pitch cross-entropy, step MSE and duration MSE, each with its training "
                        "and validation curve per epoch.")


def _pitch_class_figure(path: Path, summary: dict, music_dir: Path) -> None:
    """Pitch-class shares of the corpus and of each generated track (read back from its MIDI)."""
    from dllaunchpad.analysis import music
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    tracks = summary["tracks"]
    width = 0.8 / (len(tracks) + 1)
    x = np.arange(12)
    ax.bar(x - 0.4 + width / 2, summary["pitch_class_histograms"]["corpus"], width, label="training corpus",
           color="#999999")
    for i, track in enumerate(tracks, start=1):
        pitches = [n.pitch for n in music.read_midi_notes(music_dir / track["midi"])]
        ax.bar(x - 0.4 + width * (i + 0.5), music.pitch_class_histogram(np.array(pitches)), width,
               label=f"temperature {track['temperature']}")
    ax.set_xticks(x, music.NOTE_NAMES)
    ax.set_xlabel("pitch class")
    ax.set_ylabel("share of notes")
    ax.set_title("Pitch classes: training corpus vs generated tracks")
    ax.legend(ncol=2)
    save(fig, path)
