"""Notes -> MIDI file, piano-roll figure, audio, and simple statistics (chapter 31.6.7).

Notes are float arrays (n, 3) of [pitch, step, duration] (seconds), the model's representation.

Audio is rendered with the ``fluidsynth`` command line and a General MIDI soundfont (Debian:
``fluidsynth fluid-soundfont-gm``) to WAV, then encoded to Ogg Vorbis with ``sox`` (Debian:
``sox libsox-fmt-all``). When any of them is missing the audio is skipped with a warning and the
reason is returned, so the caller can record it; the MIDI file and figures do not need them.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VELOCITY = 100    # the chapter's notes_to_midi
PROGRAM = 0       # General MIDI acoustic grand piano
# Where Debian/Ubuntu/Fedora/Arch put a GM soundfont; LAUNCHPAD_SOUNDFONT overrides.
SOUNDFONTS = ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2"]
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def onsets(notes: np.ndarray) -> np.ndarray:
    """Start time of every note: the running sum of steps (the chapter's start_time += step)."""
    return np.cumsum(np.asarray(notes, np.float64)[:, 1])


def midi_bytes(notes: np.ndarray, min_duration: float) -> bytes:
    """A one-track piano MIDI file of ``notes``, as the chapter's ``notes_to_midi``.

    Notes shorter than ``min_duration`` are lengthened to it: a note of zero length is silent, and
    in a MIDI file its note-off sorts before its note-on at the same tick, so a reader would leave
    it open or drop it. Everything else (velocity 100, program 0, 120 bpm) is the chapter's.
    """
    import pretty_midi

    notes = np.asarray(notes, np.float64)
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=PROGRAM)
    for start, (pitch, _, duration) in zip(onsets(notes), notes):
        piano.notes.append(pretty_midi.Note(velocity=VELOCITY, pitch=int(pitch), start=float(start),
                                            end=float(start + max(duration, min_duration))))
    midi.instruments.append(piano)
    buf = io.BytesIO()
    midi.write(buf)
    return buf.getvalue()


def read_midi_notes(path: Path) -> list:
    """Every note of a MIDI file, all instruments, sorted by (start, pitch)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    return sorted((n for inst in midi.instruments for n in inst.notes), key=lambda n: (n.start, n.pitch))


def note_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"  # MIDI 60 = C4


def piano_roll(path: Path, notes: np.ndarray, title: str, min_duration: float,
               seed: np.ndarray | None = None, pitch_range: tuple[int, int] | None = None) -> Path:
    """Each note as a bar: x = time (s), y = pitch. The seed, when given, is drawn in grey at
    negative times (its last note at 0, where the generated notes' steps start counting); the
    corpus pitch range is shaded when given."""
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    notes = np.asarray(notes, np.float64)
    start = onsets(notes)
    length = np.maximum(notes[:, 2], min_duration)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    if pitch_range is not None:
        ax.axhspan(pitch_range[0] - 0.5, pitch_range[1] + 0.5, color=OKABE_ITO[5], alpha=0.12,
                   label="training pitch range")
    pitches, left = [notes[:, 0]], 0.0
    if seed is not None and len(seed):
        seed = np.asarray(seed, np.float64)
        seed_start = onsets(seed) - onsets(seed)[-1]
        ax.barh(seed[:, 0], np.maximum(seed[:, 2], min_duration), left=seed_start, height=0.8,
                color="#999999", edgecolor="none", label="seed")
        pitches.append(seed[:, 0])
        left = float(seed_start[0])
    ax.barh(notes[:, 0], length, left=start, height=0.8, color=OKABE_ITO[0], edgecolor="none",
            label="generated")
    lo, hi = int(min(p.min() for p in pitches)) - 2, int(max(p.max() for p in pitches)) + 2
    cs = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.set_yticks(cs, [note_name(p) for p in cs])
    ax.set_ylim(lo, hi)
    ax.set_xlim(left, max(float((start + length).max()), 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch (MIDI note, C ticks)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: the notes fill the axes
    return save(fig, path)


def audio_tools() -> tuple[dict[str, str] | None, str]:
    """({"fluidsynth", "sox", "soundfont"} paths, "") or (None, why the audio cannot be made)."""
    fluidsynth, sox = shutil.which("fluidsynth"), shutil.which("sox")
    candidates = [os.environ["LAUNCHPAD_SOUNDFONT"]] if os.environ.get("LAUNCHPAD_SOUNDFONT") else SOUNDFONTS
    soundfont = next((p for p in candidates if Path(p).is_file()), None)
    missing = [name for name, found in [("fluidsynth", fluidsynth), ("sox", sox),
                                        ("a General MIDI soundfont", soundfont)] if not found]
    if missing:
        return None, (f"audio skipped: {', '.join(missing)} not found (Debian: apt-get install "
                      f"fluidsynth fluid-soundfont-gm sox libsox-fmt-all)")
    return {"fluidsynth": fluidsynth, "sox": sox, "soundfont": soundfont}, ""


def render_ogg(midi_path: Path, ogg_path: Path, tools: dict[str, str], sample_rate: int = 44100) -> Path:
    """MIDI -> WAV (fluidsynth, fast offline rendering) -> Ogg Vorbis (sox), mono 22.05 kHz at
    Vorbis quality 3: a track of a minute or two stays well under a megabyte, small enough for
    a self-contained report page."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "track.wav"
        # -n no MIDI input, -i no shell, -q quiet, -F render to file, -r sample rate, -g gain.
        subprocess.run([tools["fluidsynth"], "-niq", "-g", "0.7", "-r", str(sample_rate), "-F", str(wav),
                        tools["soundfont"], str(midi_path)], check=True, capture_output=True, timeout=300)
        if not wav.is_file() or wav.stat().st_size == 0:
            raise RuntimeError(f"fluidsynth wrote no audio for {midi_path}")
        subprocess.run([tools["sox"], str(wav), "-C", "3", "-c", "1", "-r", "22050", str(ogg_path)],
                       check=True, capture_output=True, timeout=300)
    return ogg_path


# -- statistics of a track against the training corpus --------------------------------------

def pitch_class_histogram(pitch: np.ndarray) -> np.ndarray:
    """Share of notes in each of the 12 pitch classes (C, C#, ..., B)."""
    counts = np.bincount(np.asarray(pitch, np.int64) % 12, minlength=12).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def track_statistics(notes: np.ndarray, corpus: np.ndarray) -> dict[str, float]:
    """Simple descriptors of ``notes`` next to the corpus (both (n, 3)).

    - pitch_class_distance: total-variation distance between the two pitch-class histograms,
      0 (same distribution) .. 1 (disjoint);
    - in_training_range: share of notes whose pitch lies within the corpus' [min, max] pitch;
    - mean_step, mean_duration (s), distinct_pitches.
    """
    notes, corpus = np.asarray(notes), np.asarray(corpus)
    lo, hi = corpus[:, 0].min(), corpus[:, 0].max()
    tv = 0.5 * np.abs(pitch_class_histogram(notes[:, 0]) - pitch_class_histogram(corpus[:, 0])).sum()
    return {"pitch_class_distance": round(float(tv), 6),
            "in_training_range": round(float(((notes[:, 0] >= lo) & (notes[:, 0] <= hi)).mean()), 6),
            "mean_step": round(float(notes[:, 1].mean()), 6),
            "mean_duration": round(float(notes[:, 2].mean()), 6),
            "distinct_pitches": int(len(np.unique(notes[:, 0])))}
