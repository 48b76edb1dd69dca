"""A stand-in for espeak-ng for tests: the same options, a tone whose length follows the text
and the speed, written where ``-w`` says; it exercises the real subprocess calling code."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

FAKE_ESPEAK = r'''#!{python}
"""A stand-in for espeak-ng: same options, a tone whose length follows text length and speed."""
import json, math, os, struct, sys, time, wave

args = sys.argv[1:]
opts, text, stdin = {}, None, False
i = 0
while i < len(args):
    a = args[i]
    if a == "--stdin":
        stdin = True
    elif a == "--":
        text = " ".join(args[i + 1:])
        break
    elif a in ("-v", "-s", "-p", "-w", "-b", "-a"):
        opts[a] = args[i + 1]
        i += 1
    elif a == "-z":
        pass
    elif a.startswith("-"):
        sys.stderr.write("unknown option " + a + "\n")
        sys.exit(2)
    else:
        text = a
    i += 1
if stdin:
    text = sys.stdin.buffer.read().decode("utf-8")
log = os.environ.get("FAKE_ESPEAK_LOG")
if log:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": sys.argv[1:], "text": text}) + "\n")
voice = opts.get("-v", "en")
if voice == "xx-fail":
    sys.stderr.write("Error: The specified espeak-ng voice does not exist.\n")
    sys.exit(1)
if voice == "xx-slow":
    time.sleep(30)
speed = int(opts.get("-s", "175"))
rate = 22050
words = int(rate * 0.06 * len(text) * 175 / speed)
edge = rate // 50
frames = [0.0] * edge + [0.5 * math.sin(2 * math.pi * 220 * n / rate) for n in range(words)]
frames += [0.0] * edge
with wave.open(opts["-w"], "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(rate)
    out.writeframes(b"".join(struct.pack("<h", int(x * 32767)) for x in frames))
'''


def write_fake(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_ESPEAK.replace("{python}", sys.executable), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
