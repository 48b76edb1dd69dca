"""Which videos a batch dubs, and where each result goes.

``lvas batch`` takes video files and folders, or a manifest (CSV with a header row, or JSON Lines)
whose rows name a ``video`` and optionally its ``output``, ``prompt``, ``narration`` file,
``options`` (Context settings, as ``--set NAME=VALUE`` takes them) and ``seed``. Everything a
user can get wrong is refused here, before Ray or any model starts: a missing file, an empty
folder or manifest, an unknown setting, two videos written to one output. A file that exists but
is not a readable video is *not* refused: the batch records it as failed and goes on.

Each video becomes a :class:`BatchItem`; its :meth:`BatchItem.key` names it in the ledger, so a
rerun of the same command finds what is already done, and a changed prompt or option is new work.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import av

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import check_prompt
from lvas.tools.common.paths import content_hash
from lvas.tools.delivery.muxing import output_extension
from lvas.tools.evaluation.items import MANIFEST_SUFFIXES
from lvas.tools.evaluation.media import VIDEO_SUFFIXES
from lvas.tools.video.probe import VideoInfo

MANIFEST_FIELDS = ("video", "output", "prompt", "narration", "options", "seed")
"""Columns of a CSV manifest and keys of a JSONL one; only ``video`` is required."""

BATCH_WIDE_SETTINGS: Mapping[str, str] = {
    "seed": "give a video its own seed in the manifest's seed column",
    "run_dir": "each video's run folder sits next to its output (<output>.lvas), its "
    "checkpoints under OUTDIR/.lvas-batch",
    "generator_backend": "one generator pool serves every video: choose it for the whole batch",
    "generator_model": "one generator pool serves every video: choose it for the whole batch",
    "device": "the generator pool places its models itself: choose it for the whole batch",
    "mmaudio_weights": "one generator pool serves every video: choose it for the whole batch",
}
"""Context settings a manifest row may not set, with what to do instead: the batch decides them
for every video (the generator actors load one model, shared by all)."""


@dataclass(frozen=True)
class BatchItem:
    """One video of a batch: every input that shapes its result, with absolute paths.

    ``options`` are Context settings already typed (``{"segment_seconds": 10.0}``), by name.
    """

    video: str
    output: str
    prompt: str | None = None
    narration: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def key(self) -> str:
        """Stable 16-hex name of this item: the same inputs give the same key in every run,
        and any change (an option, the prompt, the output) gives a new one."""
        return content_hash(
            "lvas-batch-item",
            self.video,
            self.output,
            self.prompt,
            self.narration,
            sorted(self.options.items()),
            self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (options sorted by name), as :meth:`from_dict` reads them."""
        return {
            "video": self.video,
            "output": self.output,
            "prompt": self.prompt,
            "narration": self.narration,
            "options": dict(sorted(self.options.items())),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchItem:
        return cls(
            video=str(data["video"]),
            output=str(data["output"]),
            prompt=data.get("prompt"),
            narration=data.get("narration"),
            options=dict(data.get("options") or {}),
            seed=int(data.get("seed") or 0),
        )


@dataclass(frozen=True)
class _Entry:
    """An item before its checks: ``where`` names its source in messages; ``from_folder``
    says it was found in a folder argument rather than named."""

    item: BatchItem
    where: str
    from_folder: bool = False


def collect_items(
    inputs: Sequence[str],
    manifest: str | None,
    outdir: str | os.PathLike[str],
    *,
    seed: int = 0,
) -> list[BatchItem]:
    """The batch's items from CLI ``inputs`` (files and folders) or a ``manifest``, in order.

    A default output is ``OUTDIR/<the video's path relative to its folder argument, or its name
    for a file argument>`` with ``.dubbed`` before the extension that ``lvas dub`` would choose
    (the input's, when its container can take the copied video). ``seed`` is every item's seed
    unless a manifest row gives its own. Raises LVASInputError on anything the user must fix.
    """
    out_root = _absolute(outdir)
    if out_root.exists() and not out_root.is_dir():
        raise LVASInputError(
            f"-o {out_root}: is a file; give the folder for the batch's "
            "outputs (it is created when missing)."
        )
    if manifest is not None and inputs:
        raise LVASInputError(
            "Give either videos and folders or --manifest, not both; put every "
            "video in the manifest."
        )
    if manifest is not None:
        entries = _manifest_entries(_absolute(manifest), out_root, seed)
    elif inputs:
        entries = _input_entries(inputs, out_root, seed)
    else:
        raise LVASInputError(
            "Nothing to dub: give video files, folders of videos, or --manifest FILE."
        )
    _check_outputs(entries)
    return [entry.item for entry in entries]


def default_output(video: Path, relative: Path, out_root: Path) -> Path:
    """``out_root/<relative's folder>/<stem>.dubbed<ext>``, ``ext`` as ``lvas dub`` picks it."""
    return out_root / relative.parent / f"{video.stem}.dubbed{_output_suffix(video)}"


def _output_suffix(video: Path) -> str:
    """The extension ``lvas dub`` gives this video's output, from its container and codec read
    cheaply (no frame is decoded). A file that does not open keeps its extension when its
    container holds any codec, else .mkv: the batch records it as failed either way."""
    container, codec = "", ""
    try:
        with av.open(str(video), metadata_errors="ignore") as handle:
            container = handle.format.name
            pictures = list(handle.streams.video)
            if pictures:
                codec = pictures[0].codec_context.codec.canonical_name
    except (
        av.error.FFmpegError,
        OSError,
        EOFError,
        UnicodeDecodeError,
        ValueError,
        AttributeError,
    ):
        pass
    # output_extension reads only the path, the container and the codec of what it is given.
    info = VideoInfo(
        path=str(video),
        container=container,
        duration=0.0,
        fps=0.0,
        width=0,
        height=0,
        rotation=0,
        video_codec=codec,
        has_audio=False,
        audio_codec=None,
        vfr=False,
        size_bytes=0,
        duration_source="",
    )
    return output_extension(info)


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def _same(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


# ---- CLI inputs ---------------------------------------------------------------------------


def _input_entries(inputs: Sequence[str], out_root: Path, seed: int) -> list[_Entry]:
    entries: list[_Entry] = []
    seen: set[str] = set()
    for raw in inputs:
        path = _absolute(raw)
        if path.is_dir():
            found = [(video, video.relative_to(path)) for video in _videos_in(path, out_root)]
            if not found:
                raise LVASInputError(
                    f"{path}: no video files in it or its subfolders (looked for "
                    f"{', '.join(VIDEO_SUFFIXES)}); pass a folder of videos, or the files."
                )
            from_folder = True
        elif path.is_file():
            found, from_folder = [(path, Path(path.name))], False
        else:
            raise LVASInputError(f"{raw}: no such file or folder; check the path.")
        for video, relative in found:
            real = os.path.realpath(video)
            if real in seen:  # the same video named twice (a file and its folder) runs once
                continue
            seen.add(real)
            item = BatchItem(
                video=str(video), output=str(default_output(video, relative, out_root)), seed=seed
            )
            entries.append(_Entry(item, str(video), from_folder=from_folder))
    # A batch whose outputs land in its own input folder must not dub them on the next run.
    outputs = {os.path.realpath(entry.item.output) for entry in entries}
    return [
        entry
        for entry in entries
        if not (entry.from_folder and os.path.realpath(entry.item.video) in outputs)
    ]


def _videos_in(folder: Path, out_root: Path) -> list[Path]:
    """Video files under ``folder`` by extension, sorted by relative path; hidden files and
    folders, and the batch's own output folder, are skipped."""
    found: list[Path] = []
    inside_root = not _same(folder, out_root)
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (inside_root and _same(here / d, out_root))
        )
        found += [
            here / name
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_SUFFIXES
        ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


# ---- manifests ----------------------------------------------------------------------------


def _manifest_entries(path: Path, out_root: Path, seed: int) -> list[_Entry]:
    if not path.exists():
        raise LVASInputError(f"--manifest {path}: no such file; check the path.")
    if not path.is_file():
        raise LVASInputError(
            f"--manifest {path}: is a folder; give a .csv or .jsonl file "
            "(or pass the folder itself, without --manifest)."
        )
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise LVASInputError(
            f"--manifest {path}: write the manifest as CSV with a header row "
            "(.csv) or one JSON object per line (.jsonl)."
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LVASInputError(f"--manifest {path}: is not UTF-8 text; save it as UTF-8.") from None
    rows = list(_csv_rows(path, text) if suffix == ".csv" else _jsonl_rows(path, text))
    if not rows:
        raise LVASInputError(
            f"--manifest {path}: holds no videos; add a row per video "
            f"({', '.join(MANIFEST_FIELDS)}; only video is required)."
        )
    return [
        _row_entry(row, f"{path.name} line {line}", path.parent, out_root, seed)
        for line, row in rows
    ]


def _check_columns(names: Sequence[str], where: str) -> None:
    unknown = [name for name in names if name not in MANIFEST_FIELDS]
    if unknown:
        raise LVASInputError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; a "
            f"manifest has {', '.join(MANIFEST_FIELDS)} (only video is "
            "required)."
        )


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if not header:
        return
    _check_columns(header, f"{path.name} header")
    if "video" not in header:
        raise LVASInputError(
            f"{path.name} header: needs a 'video' column (the first row names "
            f"the columns: {', '.join(MANIFEST_FIELDS)})."
        )
    reader.fieldnames = header
    for row in reader:
        if None in row:
            raise LVASInputError(
                f"{path.name} line {reader.line_num}: more cells than the "
                "header has columns; quote cells that hold commas."
            )
        yield reader.line_num, {name: (value or "").strip() or None for name, value in row.items()}


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LVASInputError(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "write one JSON object per line."
            ) from None
        if not isinstance(row, dict):
            raise LVASInputError(
                f"{where}: expected a JSON object such as "
                '{"video": "clip.mp4"}, found '
                f"{type(row).__name__}."
            )
        _check_columns(list(row), where)
        yield number, row


def _text(row: Mapping[str, Any], name: str, where: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LVASInputError(f"{where}: {name} must be text, found {json.dumps(value)}.")
    return value.strip() or None


def _existing_file(value: str, base: Path, what: str, where: str) -> Path:
    path = _absolute(base / Path(value).expanduser())
    if not path.exists():
        raise LVASInputError(
            f"{where}: {what} {path} does not exist; check the path (relative "
            f"paths are read from the manifest's folder, {base})."
        )
    if not path.is_file():
        raise LVASInputError(f"{where}: {what} {path} is a folder; give a file.")
    return path


def _row_entry(
    row: Mapping[str, Any], where: str, base: Path, out_root: Path, default_seed: int
) -> _Entry:
    name = _text(row, "video", where)
    if name is None:
        raise LVASInputError(f"{where}: no video; every row names the video to dub.")
    video = _existing_file(name, base, "video", where)
    output_name = _text(row, "output", where)
    if output_name is not None:  # relative to OUTDIR; only a written output may leave it
        output = _absolute(out_root / Path(output_name).expanduser())
    else:
        inside = video.is_relative_to(base)
        output = default_output(
            video, video.relative_to(base) if inside else Path(video.name), out_root
        )
    prompt = _text(row, "prompt", where)
    try:
        check_prompt(prompt)
    except LVASInputError as exc:
        raise LVASInputError(f"{where}: {exc}") from None
    narration = _text(row, "narration", where)
    item = BatchItem(
        video=str(video),
        output=str(output),
        prompt=prompt,
        narration=str(_existing_file(narration, base, "narration file", where))
        if narration
        else None,
        options=_options(row.get("options"), where),
        seed=_seed(row.get("seed"), default_seed, where),
    )
    return _Entry(item, where)


def _seed(value: Any, default: int, where: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise LVASInputError(f"{where}: seed {json.dumps(value)} is not a whole number.")


def _options(value: Any, where: str) -> dict[str, Any]:
    """Context settings, typed and checked as ``--set NAME=VALUE`` is: an object in JSONL, or
    ``name=value;name=value`` in a CSV cell (either in JSONL)."""
    if value is None:
        return {}
    pairs: list[tuple[str, Any]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for part in filter(None, (p.strip() for p in value.split(";"))):
            name, sep, raw = part.partition("=")
            if not sep:
                raise LVASInputError(
                    f"{where}: options {part!r}: write name=value pairs "
                    "separated by ';' (e.g. segmentation=fixed;"
                    "segment_seconds=10)."
                )
            pairs.append((name, raw))
    else:
        raise LVASInputError(
            f"{where}: options must be an object of settings, e.g. "
            '{"segment_seconds": 10}, or name=value;name=value text.'
        )
    # The batch runs the graph, so it reads settings as the CLI does (imported late: the
    # manifest module itself stays free of the graph).
    from lvas.graph.cli import context_setting
    from lvas.graph.context import Context

    known = {f.name for f in fields(Context)}
    options: dict[str, Any] = {}
    for raw_name, raw_value in pairs:
        name = str(raw_name).strip().replace("-", "_")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            allowed = sorted(known - set(BATCH_WIDE_SETTINGS))
            raise LVASInputError(
                f"{where}: unknown setting {raw_name!r}{hint}; a video's "
                f"settings are the run's: {', '.join(allowed)}."
            )
        if name in BATCH_WIDE_SETTINGS:
            raise LVASInputError(
                f"{where}: the setting {name} is the batch's, not a video's: "
                f"{BATCH_WIDE_SETTINGS[name]}."
            )
        if name in options:
            raise LVASInputError(f"{where}: the setting {name} is given twice; keep one.")
        try:
            _, options[name] = context_setting(f"{name}={_setting_text(raw_value, name, where)}")
        except LVASInputError as exc:  # its words are the command line's
            raise LVASInputError(f"{where}: option {str(exc).removeprefix('--set ')}") from None
    return dict(sorted(options.items()))


def _setting_text(value: Any, name: str, where: str) -> str:
    """A JSON value as ``--set`` would have read it from the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise LVASInputError(
        f"{where}: setting {name} = {json.dumps(value)}: give a number, true or false, or text."
    )


# ---- outputs ------------------------------------------------------------------------------


def _check_outputs(entries: Sequence[_Entry]) -> None:
    """No output may overwrite an input, be a folder, or be shared by two items."""
    inputs = {os.path.realpath(entry.item.video): entry for entry in entries}
    claimed: dict[str, _Entry] = {}
    for entry in entries:
        output = Path(entry.item.output)
        real = os.path.realpath(output)
        if real == os.path.realpath(entry.item.video):
            raise LVASInputError(
                f"{entry.where}: the output is the video itself ({output}); "
                "give another output path, the input is never overwritten."
            )
        if real in inputs:
            raise LVASInputError(
                f"{entry.where}: the output {output} is the input video of "
                f"{inputs[real].where}; give another output path."
            )
        if output.is_dir():
            raise LVASInputError(
                f"{entry.where}: the output {output} is a folder; give a video file name."
            )
        if real in claimed:
            raise LVASInputError(
                f"{claimed[real].where} and {entry.where} would both write {output}; give "
                "them different outputs (a manifest's output column), or dub them in separate "
                "batches."
            )
        claimed[real] = entry
