"""Tier 3: ``components.core.durations`` against Go's own ``time`` package.

A stdlib-only Go program (written here, run with the installed ``go``, no module or network
needed) parses and prints the same values; the provider does exactly this with healthcheck
durations (``time.ParseDuration`` at create, ``Duration.String()`` on read).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from components.core.durations import format_nanoseconds, parse_duration

pytestmark = pytest.mark.live

GO_PROGRAM = """\
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Reads JSON lines: {"ns": N} prints time.Duration(N).String();
// {"parse": S} prints ParseDuration(S) as nanoseconds, or "error".
func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var q struct {
			Ns    *int64  `json:"ns"`
			Parse *string `json:"parse"`
		}
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			panic(err)
		}
		if q.Ns != nil {
			fmt.Fprintln(out, time.Duration(*q.Ns).String())
			continue
		}
		d, err := time.ParseDuration(*q.Parse)
		if err != nil {
			fmt.Fprintln(out, "error")
		} else {
			fmt.Fprintln(out, int64(d))
		}
	}
}
"""


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain (apt-get install golang-go)")
    work = tmp_path_factory.mktemp("godur")
    (work / "main.go").write_text(GO_PROGRAM)
    env = {
        **os.environ,
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GO111MODULE": "off",
    }
    binary = work / "godur"
    subprocess.run(["go", "build", "-o", str(binary), "main.go"], cwd=work, env=env, check=True, timeout=300)
    return binary


def _ask_go(binary: Path, queries: list[dict[str, object]]) -> list[str]:
    stdin = "".join(json.dumps(query, ensure_ascii=False) + "\n" for query in queries)
    result = subprocess.run([str(binary)], input=stdin, capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.splitlines()


def _nanosecond_samples() -> list[int]:
    units = [1, 1000, 10**6, 10**9, 60 * 10**9, 3600 * 10**9]
    samples = {0, 1, 999, 1000, 1001, 999_999, 10**6, 10**9 - 1, 10**9, 2**63 - 1, -1, -(10**9), -(2**63) + 1}
    for unit in units:
        for factor in (1, 2, 9, 10, 59, 60, 61, 99, 100, 599, 600, 601, 3599, 3600, 3601, 86400):
            samples.add(unit * factor)
            samples.add(unit * factor + 1)
            samples.add(unit * factor - 1)
    generator = random.Random(20261201)
    for _ in range(3000):
        samples.add(generator.randrange(0, 10 ** generator.randrange(1, 19)))
    return sorted(samples)


def test_formatting_matches_go(go_binary: Path) -> None:
    samples = _nanosecond_samples()
    expected = _ask_go(go_binary, [{"ns": ns} for ns in samples])
    mismatches = [
        (ns, go, format_nanoseconds(ns))
        for ns, go in zip(samples, expected, strict=True)
        if format_nanoseconds(ns) != go
    ]
    assert len(expected) == len(samples)
    assert not mismatches, mismatches[:10]


def _duration_texts() -> list[str]:
    texts = [
        *("0", "0s", "1s", "60s", "600s", "10m", "2s", "1h30m", "1h", "90s", "1.5s", ".5s", "5.s", "1m0.5s"),
        *("500ms", "1500ms", "1.5ms", "250us", "250µs", "250μs", "7ns", "+5s", "1h2m3s4ms5us6ns"),
        *("1.000000001s", "0.0000000001s", "2562047h47m16.854775807s", "2562047h47m16.854775808s"),
        # Refused by Go (and so by us): no unit, bad unit, empty, spaces, negative (we refuse those too).
        *("", "1", "1.5", "s", ".s", "1x", "1 s", "1s ", "1h-2m"),
    ]
    generator = random.Random(9)
    units = ["ns", "us", "ms", "s", "m", "h"]
    for _ in range(3000):
        terms = generator.randrange(1, 4)
        text = ""
        for _ in range(terms):
            whole = str(generator.randrange(0, 1000))
            fraction = "." + str(generator.randrange(0, 1000)) if generator.random() < 0.3 else ""
            text += whole + fraction + generator.choice(units)
        texts.append(text)
    return texts


def test_parsing_matches_go(go_binary: Path) -> None:
    texts = _duration_texts()
    answers = _ask_go(go_binary, [{"parse": text} for text in texts])
    assert len(answers) == len(texts)
    mismatches = []
    for text, go in zip(texts, answers, strict=True):
        try:
            ours = str(parse_duration(text))
        except ValueError:
            ours = "error"
        if ours != go:
            mismatches.append((text, go, ours))
    assert not mismatches, mismatches[:10]
