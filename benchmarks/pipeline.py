"""Pipeline to the outbox: 10,000 practices through one `commsbot run --once`.

Prints posts/s and the child's peak memory (targets: >= 5,000 posts/s, <= 150 MB),
and the start-up time of `commsbot --help` (target <= 150 ms) next to a bare
`python -c pass`, measured in the same run (`--startup-only`: that line alone).
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from commsbot.content.items import load_sample
from commsbot.store import Store
from commsbot.store import content as q

ITEMS = 10_000
# The sample network's own cities and themes, so generated practices validate.
_SAMPLE = json.loads(
    resources.files("commsbot.content.sample").joinpath("network.json").read_text("utf-8")
)
THEMES = [t["slug"] for t in _SAMPLE["themes"]]
CITIES = [c["slug"] for c in _SAMPLE["cities"]]


def make_store(folder: Path) -> Path:
    config = folder / "bench.toml"
    config.write_text(
        '[store]\npath = "bench.db"\n[channels.outbox]\nenabled = true\npath = "outbox"\n'
        '[posting]\ncontent_types = ["practice"]\n'
    )
    now = datetime.now(UTC)
    with Store(folder / "bench.db") as store:
        load_sample(store, now)
        store.conn.execute("DELETE FROM practices")
        rows = [
            {
                "slug": f"bench-practice-{i}",
                "title": f"Cross-innovation practice {i} in Plzeň & Vilnius 🎨",
                "city": CITIES[i % len(CITIES)],
                "theme": THEMES[i % len(THEMES)],
                "summary": "Example practice: creative teams and manufacturers co-design "
                "products; the <co>lab format brings games & health together. " * 2,
                "body": "Body text.",
                "url": f"https://cross-innovation.example/practices/bench-practice-{i}",
                "tags": ["machine-learning", "co-working", "serious-games"],
                "example": True,
            }
            for i in range(ITEMS)
        ]
        q.insert_items(store, "practice", rows, now)
    return config


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def file_floor(folder: Path, outbox: Path) -> tuple[float, float]:
    """The disk's part: the files and log lines the run wrote (the same names, the same
    bytes), written again by a bare loop, no pipeline. Its wall time and its CPU time
    (user + system)."""
    written = sorted(outbox.glob("*.txt"))
    files = [(folder / p.name, p.read_bytes()) for p in written]
    lines = (outbox / "outbox.jsonl").read_text("utf-8").splitlines(keepends=True)
    folder.mkdir()
    # Neither part pays for the other's writing back: each starts with nothing dirty.
    os.sync()
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with open(folder / "outbox.jsonl", "a", encoding="utf-8") as log:
        for (target, body), line in zip(files, lines, strict=True):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, body)
            os.close(fd)
            log.write(line)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu


def time_command(args: list[str], runs: int) -> tuple[float, float]:
    """The median wall time and CPU time (user + system) of running ``args``."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu)
    return statistics.median(walls), statistics.median(cpus)


def startup(commsbot: str) -> None:
    """Print the start-up line: `commsbot --help` next to a bare `python -c pass`."""
    help_s, help_cpu = time_command([commsbot, "--help"], 15)
    bare_s, bare_cpu = time_command([sys.executable, "-c", "pass"], 15)
    print(
        f"start-up: commsbot --help {help_s * 1000:.0f} ms (target <= 150); "
        f"bare python {bare_s * 1000:.0f} ms; ratio {help_s / bare_s:.1f}x; "
        f"CPU {help_cpu * 1000:.0f} ms / {bare_cpu * 1000:.0f} ms; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def compile_package() -> None:
    """Write the package's bytecode, as installing it from a wheel does. An editable install
    run with PYTHONDONTWRITEBYTECODE=1 (set on this machine) otherwise compiles commsbot's
    ~50 imported modules from source in every process: ~0.2 s of a 2 s run, not the
    pipeline's."""
    compileall.compile_dir(str(resources.files("commsbot")), quiet=1)


def main() -> None:
    compile_package()
    commsbot = str(Path(sys.executable).with_name("commsbot"))
    if sys.argv[1:] == ["--startup-only"]:
        startup(commsbot)
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = make_store(Path(tmp))
        os.sync()
        start = time.perf_counter()
        out = subprocess.run(
            [commsbot, "--config", str(config), "run", "--once", "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        child_cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
        child_user = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        posted = json.loads(out.stdout)["channels"][0]["posted"]
        files = len(list((Path(tmp) / "outbox").glob("*.txt")))
        floor, floor_cpu = file_floor(Path(tmp) / "floor", Path(tmp) / "outbox")
    assert posted == ITEMS == files, (posted, files)
    print(
        f"pipeline: {ITEMS} posts rendered, recorded and written in {elapsed:.2f} s "
        f"= {ITEMS / elapsed:,.0f} posts/s (target >= 5,000); peak RSS {peak_mb:.0f} MB "
        f"(target <= 150)"
    )
    print(
        f"          the disk's part: a bare loop writing the same {ITEMS} files and log lines "
        f"takes {floor:.2f} s ({ITEMS / floor:,.0f} files/s); pipeline / that {elapsed / floor:.1f}x"
    )
    # On a shared machine wall times swing with the others' load; CPU time much less.
    print(
        f"          CPU (user + system): pipeline {child_cpu:.2f} s, bare loop {floor_cpu:.2f} s; "
        f"pipeline / that {child_cpu / floor_cpu:.1f}x; load average {os.getloadavg()[0]:.1f}"
    )
    # The kernel's cost of creating a file swings tenfold here from run to run (the bare
    # loop's system time): the pipeline's own work is its user time.
    print(
        f"          user CPU: pipeline {child_user:.2f} s "
        f"({child_user / ITEMS * 1e6:.0f} us a post); system: {child_cpu - child_user:.2f} s"
    )
    startup(commsbot)


if __name__ == "__main__":
    main()
